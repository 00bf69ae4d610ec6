package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// S3 keeps the journal in an S3 object and the lock in a second object
// beside it (KEY.lock), both written with S3's conditional writes, the
// way Terraform's S3 backend locks without DynamoDB: the lock is created
// with If-None-Match: *, so only one writer can create it, and every
// change after that (the journal's, the lock's renewal) carries If-Match
// with the ETag its writer last saw, so a write over someone else's is
// refused.
//
// An object outlives a holder that dies, so a holder renews its lock
// object every renewEvery; one not renewed for lease (by S3's clock) is
// taken as abandoned: plan no longer reports it as running and
// force-unlock may remove it. A holder that finds its lock replaced or
// removed stops writing.
type S3 struct {
	client      *s3.Client
	bucket, key string
	lease       time.Duration
	renewEvery  time.Duration
	// now is the time to judge a lock's age by, given the server's Date
	// header (zero when there is none): S3's own clock, so that two
	// machines' clocks need not agree.
	now func(server time.Time) time.Time
}

var _ Backend = (*S3)(nil)

// S3Type is the s3 backend:
//
//	state "s3" {
//	  bucket = "acme-rotplan"
//	  key    = "prod/rotplan.state"
//	  region = "eu-west-1"           # optional: else AWS_REGION
//	  endpoint = "https://..."       # optional: an S3-compatible service
//	  use_path_style = true          # optional
//	}
//
// Credentials come from the AWS SDK's default chain, never the inventory.
func S3Type() Type {
	return Type{
		Name: "s3",
		Spec: hcldec.ObjectSpec{
			"bucket":         &hcldec.AttrSpec{Name: "bucket", Type: cty.String, Required: true},
			"key":            &hcldec.AttrSpec{Name: "key", Type: cty.String, Required: true},
			"region":         &hcldec.AttrSpec{Name: "region", Type: cty.String},
			"endpoint":       &hcldec.AttrSpec{Name: "endpoint", Type: cty.String},
			"use_path_style": &hcldec.AttrSpec{Name: "use_path_style", Type: cty.Bool},
		},
		Open: openS3,
	}
}

func openS3(cfg cty.Value, _ string) (Backend, error) {
	var bucket, key, region, endpoint string
	for _, a := range []struct {
		name string
		to   *string
	}{{"bucket", &bucket}, {"key", &key}, {"region", &region}, {"endpoint", &endpoint}} {
		v, err := attrString(cfg, a.name, "")
		if err != nil {
			return nil, err
		}
		*a.to = v
	}
	if bucket == "" || key == "" {
		return nil, errors.New("bucket and key are required")
	}
	pathStyle, err := attrBool(cfg, "use_path_style")
	if err != nil {
		return nil, err
	}
	opts := []func(*awsconfig.LoadOptions) error{
		// The SDK's request logging stays off.
		awsconfig.WithLogger(logging.Nop{}),
		awsconfig.WithClientLogMode(0),
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(endpoint))
	}
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if ac.Region == "" {
		return nil, errors.New("no AWS region: set region in the state \"s3\" block, or AWS_REGION")
	}
	client := s3.NewFromConfig(ac, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		// A checksum only where S3 requires one: S3-compatible services
		// do not all take the SDK's streamed checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	return NewS3(client, bucket, key), nil
}

// NewS3 returns the s3 backend for the journal at key in bucket.
func NewS3(client *s3.Client, bucket, key string) *S3 {
	return &S3{client: client, bucket: bucket, key: key, lease: 2 * time.Minute, renewEvery: 20 * time.Second,
		now: func(server time.Time) time.Time {
			if server.IsZero() {
				return time.Now()
			}
			return server
		}}
}

func (b *S3) String() string { return "s3://" + b.bucket + "/" + b.key }

func (b *S3) lockKey() string { return b.key + ".lock" }

// Close does nothing: the SDK's client holds no connection of its own.
func (b *S3) Close() error { return nil }

// object is what a GET returned: the body, its ETag and age.
type object struct {
	body         []byte
	etag         string
	lastModified time.Time
	serverDate   time.Time
}

// get reads an object; nil when there is none.
func (b *S3) get(ctx context.Context, key string) (*object, error) {
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if status(err) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", b.bucket, key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", b.bucket, key, err)
	}
	o := &object{body: body, etag: aws.ToString(out.ETag), lastModified: aws.ToTime(out.LastModified)}
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		o.serverDate, _ = http.ParseTime(raw.Header.Get("Date"))
	}
	return o, nil
}

// put writes an object on a condition: ifMatch its ETag, or "" for "only
// if there is none" (If-None-Match: *). It returns the new ETag; a failed
// condition is errConditionFailed.
func (b *S3) put(ctx context.Context, key string, body []byte, ifMatch string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: bytes.NewReader(body), ContentType: aws.String("application/json")}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := b.client.PutObject(ctx, in)
	switch status(err) {
	case 0:
		return aws.ToString(out.ETag), nil
	case http.StatusPreconditionFailed, http.StatusConflict, http.StatusNotFound:
		// 409: another conditional write to the key was in flight.
		return "", errConditionFailed
	}
	return "", fmt.Errorf("write s3://%s/%s: %w", b.bucket, key, err)
}

var errConditionFailed = errors.New("the object changed since it was read")

// status is an S3 error's HTTP status, 0 for no error, -1 for an error
// that never got a response.
func status(err error) int {
	if err == nil {
		return 0
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return -1
}

// Read returns the journal object, empty when there is none.
func (b *S3) Read(ctx context.Context) (*State, error) {
	o, err := b.get(ctx, b.key)
	if err != nil || o == nil {
		return New(), err
	}
	return decode(b.String(), o.body)
}

// lockBody is the lock object: the holder, and when it last renewed.
type lockBody struct {
	Holder  LockInfo  `json:"holder"`
	Renewed time.Time `json:"renewed"`
}

// readLock reads the lock object: its holder, and whether it was renewed
// within the lease. nil when there is none.
func (b *S3) readLock(ctx context.Context) (*lockBody, *object, bool, error) {
	o, err := b.get(ctx, b.lockKey())
	if err != nil || o == nil {
		return nil, nil, false, err
	}
	var lb lockBody
	if err := json.Unmarshal(o.body, &lb); err != nil || lb.Holder.ID == "" {
		lb.Holder.ID = "unknown"
	}
	fresh := b.now(o.serverDate).Sub(o.lastModified) < b.lease
	return &lb, o, fresh, nil
}

func (b *S3) age(o *object) string {
	return fmt.Sprintf("renewed %s ago", b.now(o.serverDate).Sub(o.lastModified).Round(time.Second))
}

// Lock creates the lock object, if nobody else has, and renews it until
// Unlock.
func (b *S3) Lock(ctx context.Context, info LockInfo, timeout time.Duration) (Lock, error) {
	deadline := time.Now().Add(timeout)
	for {
		body, _ := json.Marshal(lockBody{Holder: info, Renewed: time.Now().UTC()})
		etag, err := b.put(ctx, b.lockKey(), body, "")
		if err == nil {
			k := &s3Lock{b: b, info: info, etag: etag, lost: make(chan struct{}), stop: make(chan struct{}), renewed: time.Now()}
			go k.renewLoop()
			return k, nil
		}
		if !errors.Is(err, errConditionFailed) {
			return nil, fmt.Errorf("lock state %s: %w", b, err)
		}
		if !time.Now().Before(deadline) {
			lb, o, fresh, err := b.readLock(ctx)
			if err != nil {
				return nil, fmt.Errorf("lock state %s: %w", b, err)
			}
			if lb == nil {
				continue // released in between: try again
			}
			note := b.age(o)
			if !fresh {
				note += "; it looks abandoned"
			}
			return nil, &LockedError{Where: b.String(), Holder: lb.Holder, Note: note}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// Holder reports the holder of a lock renewed within the lease.
func (b *S3) Holder(ctx context.Context) (*LockInfo, error) {
	lb, _, fresh, err := b.readLock(ctx)
	if err != nil || lb == nil || !fresh {
		return nil, err
	}
	return &lb.Holder, nil
}

// ForceUnlock removes the lock object of holder id once it has not been
// renewed for the lease: a holder still renewing it is alive.
func (b *S3) ForceUnlock(ctx context.Context, id string) error {
	lb, o, fresh, err := b.readLock(ctx)
	switch {
	case err != nil:
		return err
	case lb == nil:
		return fmt.Errorf("the state %s is not locked", b)
	case lb.Holder.ID != id:
		return fmt.Errorf("the state %s is locked by %s, not %s; nothing was changed", b, lb.Holder.ID, id)
	case fresh:
		return fmt.Errorf("lock %s is held by a running process (%s, %s; a lock not renewed for %s is abandoned); stop it rather than force the lock", id, lb.Holder.Describe(), b.age(o), b.lease)
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(b.lockKey())}); err != nil {
		return fmt.Errorf("remove s3://%s/%s: %w", b.bucket, b.lockKey(), err)
	}
	return nil
}

// s3Lock is a held lock object. Each journal write renews it first with
// If-Match, so a holder whose lock was removed or replaced writes nothing.
type s3Lock struct {
	b    *S3
	info LockInfo

	mu       sync.Mutex // guards etag, renewed and lostSet
	etag     string
	renewed  time.Time // when this holder last renewed it, by its own clock
	lostSet  bool
	lost     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

func (k *s3Lock) Info() LockInfo { return k.info }

func (k *s3Lock) Lost() <-chan struct{} { return k.lost }

func (k *s3Lock) renewLoop() {
	t := time.NewTicker(k.b.renewEvery)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		k.mu.Lock()
		err := k.renewLocked(context.Background())
		if err != nil && !k.lostSet && time.Since(k.renewed) > k.b.lease {
			// Others may take this lock for abandoned now.
			k.loseLocked()
		}
		done := k.lostSet
		k.mu.Unlock()
		if done {
			return
		}
	}
}

// renewLocked rewrites the lock object if it is still this holder's;
// k.mu is held. A lock object replaced or removed loses the lock.
func (k *s3Lock) renewLocked(ctx context.Context) error {
	if k.lostSet {
		return ErrLockLost
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	body, _ := json.Marshal(lockBody{Holder: k.info, Renewed: time.Now().UTC()})
	etag, err := k.b.put(ctx, k.b.lockKey(), body, k.etag)
	if errors.Is(err, errConditionFailed) {
		k.loseLocked()
		return ErrLockLost
	}
	if err != nil {
		return err
	}
	k.etag, k.renewed = etag, time.Now()
	return nil
}

func (k *s3Lock) loseLocked() {
	if !k.lostSet {
		k.lostSet = true
		close(k.lost)
	}
}

// update renews the lock, then rewrites the journal object on the
// condition that it is the one whose serial the caller saw.
func (k *s3Lock) update(ctx context.Context, serial int64, change func(*State) bool) (int64, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.renewLocked(ctx); err != nil {
		if errors.Is(err, ErrLockLost) {
			return 0, err
		}
		return 0, fmt.Errorf("write state %s: renew the lock: %w", k.b, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o, err := k.b.get(ctx, k.b.key)
	if err != nil {
		return 0, err
	}
	st, etag := New(), ""
	if o != nil {
		if st, err = decode(k.b.String(), o.body); err != nil {
			return 0, err
		}
		etag = o.etag
	}
	if st.Serial != serial {
		return 0, fmt.Errorf("%w (serial %d, the journal's is %d)", ErrStaleSerial, serial, st.Serial)
	}
	if !change(st) {
		return st.Serial, nil
	}
	st.FormatVersion = FormatVersion
	st.Serial++
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return 0, err
	}
	if _, err := k.b.put(ctx, k.b.key, append(b, '\n'), etag); err != nil {
		if errors.Is(err, errConditionFailed) {
			return 0, fmt.Errorf("%w (someone wrote the journal object since it was read)", ErrStaleSerial)
		}
		return 0, err
	}
	return st.Serial, nil
}

func (k *s3Lock) PutRotation(ctx context.Context, serial int64, r *Rotation) (int64, error) {
	return k.update(ctx, serial, func(st *State) bool {
		st.Rotations[r.Secret] = r
		return true
	})
}

func (k *s3Lock) DeleteRotation(ctx context.Context, serial int64, secret string) (int64, error) {
	return k.update(ctx, serial, func(st *State) bool {
		if _, ok := st.Rotations[secret]; !ok {
			return false
		}
		delete(st.Rotations, secret)
		return true
	})
}

// Unlock stops renewing and removes the lock object if it is still this
// holder's.
func (k *s3Lock) Unlock(ctx context.Context) error {
	k.stopOnce.Do(func() { close(k.stop) })
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lostSet {
		return nil
	}
	k.lostSet = true // released: no more writes through it
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o, err := k.b.get(ctx, k.b.lockKey())
	if err != nil {
		return fmt.Errorf("unlock state %s: %w", k.b, err)
	}
	if o == nil || o.etag != k.etag {
		return nil // not ours any more
	}
	if _, err := k.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &k.b.bucket, Key: aws.String(k.b.lockKey())}); err != nil {
		return fmt.Errorf("unlock state %s: %w", k.b, err)
	}
	return nil
}
