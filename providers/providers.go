package providers

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// ErrNotImplemented is returned for a block type whose schema rotplan knows
// but whose provider is not built yet.
var ErrNotImplemented = errors.New("not implemented yet in this version of rotplan")

// Settings is what a factory gets to build a provider instance.
type Settings struct {
	// Dir is the inventory directory: relative paths start there.
	Dir string
	// Provider is the decoded provider block this type shares settings with
	// (provider "aws" {...}), or cty.NilVal when the inventory has none.
	Provider cty.Value
	Logger   hclog.Logger
}

// SecretRef names a secret and carries its block's decoded configuration.
type SecretRef struct {
	Name   string
	Config cty.Value
}

// Store is the source of truth for a secret's value, holding its current
// value and, during a rotation, pending and previous ones.
type Store interface {
	// Inspect reports what the store holds for each secret: metadata only.
	// One call covers many secrets so a store can list rather than read
	// each one.
	Inspect(ctx context.Context, req InspectRequest) (*InspectResponse, error)
	// Read returns the value in one slot of each secret.
	Read(ctx context.Context, req ReadRequest) (*ReadResponse, error)
}

// InspectRequest asks about a batch of secrets.
type InspectRequest struct {
	Secrets []SecretRef
	// Acts reports whether plan would act on a secret the store describes
	// as st (nil: the store holds none of it): create, rotate, resume,
	// roll back or retire it. A store whose batch listing may lag behind
	// its writes (Secrets Manager's ListSecrets, by up to five minutes)
	// confirms every secret Acts is true for with a consistent read before
	// answering, so a plan made right after an apply does not act again on
	// what that apply changed. nil means confirm every secret: apply's own
	// reads of a secret it is about to change.
	Acts func(name string, st *StoredSecret) bool
}

// InspectResponse answers an InspectRequest. A secret absent from Secrets
// does not exist in the store.
type InspectResponse struct {
	Secrets map[string]*StoredSecret
}

// StoredSecret is a store's metadata for one secret.
type StoredSecret struct {
	// Current, Pending and Previous describe the versions held; nil when the
	// slot is empty.
	Current  *Version
	Pending  *Version
	Previous *Version
	// RotatedAt is rotplan's own record of the last promote, zero if the
	// store has none: the planner then falls back to Current.CreatedAt.
	RotatedAt time.Time
	// ManagedBy names another system that owns this secret's rotation (AWS
	// rotation); rotplan reports it and leaves it alone.
	ManagedBy string
	// Records are what the secret's targets asked to keep when they were
	// last written (WriteResult.Record), by target address; nil when the
	// store keeps none (TargetRecorder).
	Records map[string]string
	// Err is set when this secret alone could not be read.
	Err error
}

// Version is metadata about one version of a secret.
type Version struct {
	ID        string
	CreatedAt time.Time
	// RetireAfter is when a previous version's grace ends.
	RetireAfter time.Time
	// Rotation identifies the rotation that staged a pending version, ""
	// when rotplan did not stage it.
	Rotation string
	// Failed is set on a pending version whose rotation failed its checks
	// and is being rolled back (FailureMarker): apply discards it, never
	// promotes it. It means nothing on a current or previous version.
	Failed bool
}

// Slot is a version's place in a store.
type Slot int

const (
	SlotCurrent Slot = iota
	SlotPending
	SlotPrevious
)

func (s Slot) String() string {
	switch s {
	case SlotCurrent:
		return "current"
	case SlotPending:
		return "pending"
	case SlotPrevious:
		return "previous"
	}
	return "unknown"
}

// ReadRequest asks for the value in one slot of each secret.
type ReadRequest struct {
	Secrets []SecretRef
	Slot    Slot
}

// ReadResponse holds the values read. A secret with nothing in the slot is
// absent from Values; one that failed is in Errors.
type ReadResponse struct {
	Values map[string]sensitive.Value
	Errors map[string]error
}

// Generator makes a secret's next value.
type Generator interface {
	Generate(ctx context.Context, req GenerateRequest) (*GenerateResponse, error)
}

// GenerateRequest carries the generate block's configuration, decoded with
// the values of the secrets it references.
type GenerateRequest struct {
	Secret string
	Config cty.Value
	// Rotation is the journal's id for the rotation the value is for; an
	// issuer may label what it mints with it.
	Rotation string
}

// GenerateResponse holds the new value.
type GenerateResponse struct {
	Value sensitive.Value
	// ID names a credential an Issuer minted (an access key id); "" for a
	// value rotplan made. It is not secret: apply journals it.
	ID string
}

// Issuer is a generator whose values the system that checks them mints
// (an IAM access key, an Entra ID application password), and revokes by
// the id each carries.
//
// Generate mints the next value. Apply journals that it is minting before
// the call and the minted ID right after, before anything else happens to
// the value, so a crash never leaves a credential that neither the store
// nor the journal knows: Sweep revokes what a mint cut short left behind.
// Revoke revokes a value the issuer minted, at a rollback or a retire; one
// already gone is no error.
type Issuer interface {
	Generator
	Revoke(ctx context.Context, req RevokeRequest) (*RevokeResponse, error)
	Sweep(ctx context.Context, req SweepRequest) (*SweepResponse, error)
}

// RevokeRequest revokes one minted value.
type RevokeRequest struct {
	Secret string
	Config cty.Value
	// ID names the credential when apply knows it; otherwise the issuer
	// reads it from Value.
	ID    string
	Value sensitive.Value
}

// RevokeResponse reports a revocation.
type RevokeResponse struct{}

// SweepRequest asks an issuer to revoke what rotation Rotation may have
// minted without anyone recording it: the secret's credentials minted at
// or after Since that are none of Keep (the values the store holds).
type SweepRequest struct {
	Secret   string
	Config   cty.Value
	Rotation string
	Since    time.Time
	Keep     []sensitive.Value
}

// SweepResponse says what a sweep revoked, by id.
type SweepResponse struct {
	Revoked []string
}

// Target is a system that accepts a secret's value or holds a copy of it.
type Target interface {
	// Observe reports whether each target holds the store's current value,
	// and how many credentials it accepts that rotplan did not make. One
	// call covers every item of one provider instance, so a target can read
	// a file or an app's secrets once.
	//
	// An item's Current is empty when the secret is not in the store yet
	// (plan is about to create it). A target must not fail for want of a
	// value then, but report what it holds where it can tell: HoldsNothing,
	// or HoldsOther with Unknown counting what is there; HoldsUnknown where
	// it cannot tell.
	Observe(ctx context.Context, req ObserveRequest) (*ObserveResponse, error)
}

// ObserveRequest asks about a batch of target blocks.
type ObserveRequest struct {
	Items []ObserveItem
}

// ObserveItem is one target block of one secret, with the store's values
// to compare against.
type ObserveItem struct {
	Secret string
	Target string // the target block's address within the secret
	Config cty.Value
	// Current is the store's current value; empty when the store has none
	// (the secret is about to be created).
	Current sensitive.Value
	// Previous is the store's previous value while its grace runs; empty
	// when there is none. A target that accepts it counts it neither as
	// current nor as Unknown.
	Previous sensitive.Value
	// Recorded is what this target asked the store to keep for the item
	// when it last wrote it (WriteResult.Record); "" when nothing is kept.
	Recorded string
}

// ObserveResponse holds one Observation per item, in the request's order.
type ObserveResponse struct {
	Results []Observation
}

// Observation is what a target holds for one item.
type Observation struct {
	Holds Holding
	// Unknown is how many credentials the target accepts besides Current
	// and Previous: ones rotplan did not make, such as a password a Redis
	// ACL user had before rotplan took it over, or a user that takes any
	// password (counted as one). Zero when there are none, or when the
	// target cannot tell. Any is drift, and Retire removes them.
	Unknown int
	// Err is set when this item alone could not be observed.
	Err error
}

// Holding says what a target holds compared with the store.
type Holding int

const (
	// HoldsUnknown: the target cannot tell (a write-only system).
	HoldsUnknown Holding = iota
	// HoldsCurrent: the target holds the store's current value.
	HoldsCurrent
	// HoldsOther: the target holds some other value.
	HoldsOther
	// HoldsNothing: the target holds no value at all.
	HoldsNothing
)

func (h Holding) String() string {
	switch h {
	case HoldsCurrent:
		return "current"
	case HoldsOther:
		return "other"
	case HoldsNothing:
		return "nothing"
	}
	return "unknown"
}

// Verifier checks that a value works.
type Verifier interface {
	Verify(ctx context.Context, req VerifyRequest) (*VerifyResponse, error)
}

// VerifyRequest carries the verify block's configuration and the value to
// prove.
type VerifyRequest struct {
	Secret string
	Config cty.Value
	Value  sensitive.Value
}

// VerifyResponse reports a passed check; a failed check is an error.
type VerifyResponse struct {
	Detail string
}

// StoreWriter is a store apply can rotate in: it holds a pending version
// beside the current one until the rotation is proven.
type StoreWriter interface {
	Store
	// Stage writes the value as the secret's pending version, leaving the
	// current one intact. Staging the same rotation's value again is a
	// no-op; a pending version of another rotation is an error.
	Stage(ctx context.Context, req StageRequest) (*StageResponse, error)
	// Promote makes the pending version current and the old current
	// previous, valid until RetireAfter. Promoting a rotation that is
	// already current is a no-op.
	Promote(ctx context.Context, req PromoteRequest) (*PromoteResponse, error)
	// Discard drops the pending version of a failed rotation; nothing
	// pending is a no-op.
	Discard(ctx context.Context, req DiscardRequest) (*DiscardResponse, error)
	// RetirePrevious drops the previous version once its grace is over;
	// nothing previous is a no-op.
	RetirePrevious(ctx context.Context, req RetirePreviousRequest) (*RetirePreviousResponse, error)
}

// StageRequest stages a new value.
type StageRequest struct {
	Secret   SecretRef
	Value    sensitive.Value
	Rotation string // the journal's id for this rotation
	Now      time.Time
}

// StageResponse reports a staged value.
type StageResponse struct{}

// PromoteRequest promotes a staged value.
type PromoteRequest struct {
	Secret      SecretRef
	Rotation    string
	Now         time.Time
	RetireAfter time.Time
}

// PromoteResponse reports a promotion.
type PromoteResponse struct{}

// DiscardRequest drops a staged value.
type DiscardRequest struct {
	Secret   SecretRef
	Rotation string
}

// DiscardResponse reports a discarded value.
type DiscardResponse struct{}

// RetirePreviousRequest drops a previous value.
type RetirePreviousRequest struct {
	Secret SecretRef
}

// RetirePreviousResponse reports a retired value.
type RetirePreviousResponse struct{}

// ErrPendingFailed is what Promote of a pending version marked failed
// returns (wrapped): a candidate that failed its checks never becomes
// current.
var ErrPendingFailed = errors.New("the pending value failed its checks and is being rolled back; it is never promoted")

// FailureMarker is a StoreWriter that can mark a pending version as failed
// before its rollback starts, so plan tells a rollback under way from an
// interrupted rotation without reading apply's state. Every store apply
// writes to implements it.
type FailureMarker interface {
	// MarkFailed marks the pending version of req.Rotation as failed, and
	// Inspect reports it with Pending.Failed from then on. Marking it again
	// is a no-op, and so is nothing pending (the rollback discarded it
	// already); a pending version of another rotation, or one rotplan did
	// not stage, is left alone and is an error. Once marked, Promote
	// refuses the version with ErrPendingFailed, Stage of the same rotation
	// keeps the mark, and Discard removes the version and the mark.
	MarkFailed(ctx context.Context, req MarkFailedRequest) (*MarkFailedResponse, error)
}

// MarkFailedRequest marks a staged value as failed.
type MarkFailedRequest struct {
	Secret   SecretRef
	Rotation string // the rotation whose pending version failed
}

// MarkFailedResponse reports a marked value.
type MarkFailedResponse struct{}

// TargetWriter is a target apply can change. Each call covers every item of
// one provider instance, so a target that restarts on change (a Fly app)
// takes one update per apply.
type TargetWriter interface {
	Target
	// Deliver makes each target hold Value. Where the target is configured
	// for it, Previous stays valid beside it (a second password, a previous
	// key slot) until Retire. A write whose value is already in place is
	// skipped.
	Deliver(ctx context.Context, req DeliverRequest) (*WriteResponse, error)
	// Revert undoes a Deliver after a failed check: each target holds Value
	// (the old value) again and Previous (the failed candidate) no longer
	// works.
	Revert(ctx context.Context, req RevertRequest) (*WriteResponse, error)
	// Retire leaves only Value (the current value) working in each target:
	// it removes Previous (the value a rotation replaced) and every
	// credential Observe counts as Unknown. Value is also what targets that
	// need to log in use. A target that checks logins and does not accept
	// Value refuses, rather than be left without a working credential.
	Retire(ctx context.Context, req RetireRequest) (*WriteResponse, error)
}

// WriteItem is one target block of one secret, with the values involved.
type WriteItem struct {
	Secret   string
	Target   string // the target block's address within the secret
	Config   cty.Value
	Value    sensitive.Value
	Previous sensitive.Value // empty when there is none (a first creation)
	// Recorded is what this target asked the store to keep for the item
	// when it last wrote it (WriteResult.Record); "" when nothing is kept.
	Recorded string
}

// DeliverRequest delivers new values.
type DeliverRequest struct {
	Items []WriteItem
}

// RevertRequest restores old values.
type RevertRequest struct {
	Items []WriteItem
}

// RetireRequest removes previous values.
type RetireRequest struct {
	Items []WriteItem
}

// WriteResponse holds one WriteResult per item, in the request's order.
type WriteResponse struct {
	Results []WriteResult
}

// WriteResult is the outcome for one item.
type WriteResult struct {
	// Skipped is true when the target already held what was asked.
	Skipped bool
	// Record, when set, is what the target asks to keep beside the secret
	// in its store for this item, to be handed back as Recorded: what it
	// needs to tell later, without reading any value, whether it still
	// holds what it was given (a Fly app's digest of the key written, which
	// nobody but Fly can compute). It holds no value and nothing a value
	// could be guessed from without the value itself: anyone who may read
	// the store's metadata may read it.
	Record string
	// Err is set when this item alone failed.
	Err error
}

// TargetRecorder is a StoreWriter that keeps, beside each secret, what its
// targets asked to record when they were written (WriteResult.Record), and
// returns them from Inspect in StoredSecret.Records. Apply records them
// after every write to a target that asked; a store that is not one keeps
// nothing, and such targets observe as they can without.
type TargetRecorder interface {
	RecordTargets(ctx context.Context, req RecordTargetsRequest) (*RecordTargetsResponse, error)
}

// RecordTargetsRequest keeps targets' records for one secret.
type RecordTargetsRequest struct {
	Secret SecretRef
	// Records by target address; the records of targets not named are
	// left as they are.
	Records map[string]string
}

// RecordTargetsResponse reports records kept.
type RecordTargetsResponse struct{}
