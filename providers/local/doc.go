// Package local is the local store, rotplan's embedded default: one JSON file
// (rotplan.store beside the inventory unless a store block says otherwise)
// holding many secrets, each with a current value and, during a rotation, a
// pending and a previous one.
//
// It owns the file's format, reading it for plan (Inspect, Read: one decode
// per file per call, metadata without values for Inspect) and changing it
// for apply (File, Update: stage, mark failed, promote, discard, retire,
// written atomically under a file lock). rotplan's metadata lives in the
// entries: a version's id, created_at and the rotation that staged it, a
// previous version's retire_after, the secret's rotated_at, and "failed":
// true on a pending version whose rotation failed its checks and is being
// rolled back (absent otherwise, so files written before it read the same).
// Store implements providers.StoreWriter and providers.FailureMarker on top
// of Update, one locked read-modify-write per call, and every call can run
// again after a crash: staging, marking or promoting a rotation a second
// time, or discarding or retiring what is already gone, changes nothing,
// while a pending value of another rotation is never marked, promoted or
// discarded, and one marked failed is never promoted. It refuses to read a
// file that users other than its owner can access, removes the temporary
// files a crashed writer left beside one before it changes it, and no error
// it returns carries a value.
//
// This package imports providers, config, internal/atomicfile,
// internal/filelock and internal/sensitive of rotplan, and nothing else of
// it.
package local
