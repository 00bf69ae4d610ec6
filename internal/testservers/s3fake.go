package testservers

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// FakeS3 is an in-process S3 API (gofakes3, with its in-memory backend)
// served over HTTP on 127.0.0.1. No S3-compatible server can be installed
// on the test machines (MinIO is in no package registry they reach), so
// tests that need S3 use this fake and say so in their names. It honours
// conditional writes (If-None-Match: *, If-Match) as S3 does.
type FakeS3 struct {
	// Endpoint is the server's URL, for path-style requests.
	Endpoint string
	// Bucket exists from the start.
	Bucket string
	// Clock is the server's clock: objects' LastModified. It runs with the
	// real clock until a test moves it on with Advance.
	Clock *Clock
}

// FakeS3Region, FakeS3AccessKey and FakeS3SecretKey are what a client
// signs with; the fake accepts any.
const (
	FakeS3Region    = "us-east-1"
	FakeS3AccessKey = "AKIDFAKES3"
	FakeS3SecretKey = "fake-s3-secret-key"
)

// StartFakeS3 serves a fake S3 until the test ends, with one bucket.
func StartFakeS3(tb testing.TB) *FakeS3 {
	tb.Helper()
	clock := &Clock{}
	backend := s3mem.New(s3mem.WithTimeSource(clock))
	faker := gofakes3.New(backend,
		gofakes3.WithTimeSource(clock),
		gofakes3.WithTimeSkewLimit(0), // the clock may be moved on
		gofakes3.WithAutoBucket(false),
	)
	srv := httptest.NewServer(faker.Server())
	tb.Cleanup(srv.Close)
	const bucket = "rotplan-state"
	if err := backend.CreateBucket(bucket); err != nil {
		tb.Fatalf("testservers: fake s3: create bucket: %v", err)
	}
	return &FakeS3{Endpoint: srv.URL, Bucket: bucket, Clock: clock}
}

// Clock is the real clock moved on by what Advance added.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the real time plus the offset, in UTC.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset).UTC()
}

// Since is Now minus t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
