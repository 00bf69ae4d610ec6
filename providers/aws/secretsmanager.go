package aws

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/hashicorp/go-hclog"

	"github.com/rotplan/rotplan/internal/retry"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Staging labels: AWS's own names for a secret's current, pending and
// previous versions. Each label is on at most one version at a time.
const (
	stageCurrent  = "AWSCURRENT"
	stagePending  = "AWSPENDING"
	stagePrevious = "AWSPREVIOUS"
)

// Tags rotplan keeps on a secret. ListSecrets returns them, so plan reads
// them without a call per secret.
const (
	// TagRotation holds the id of the last rotation rotplan staged here.
	// The version that rotation staged has the id versionToken(id), so a
	// version is rotplan's when its id matches this tag.
	TagRotation = "rotplan:rotation"
	// TagRotatedAt holds the time of rotplan's last promote (RFC 3339).
	// Before rotplan's first promote it holds the secret's age basis,
	// recorded by the first stage: the last-changed date plan went by
	// until then, which staging and discarding a value would move.
	TagRotatedAt = "rotplan:rotated-at"
	// TagRetireAfter holds when the AWSPREVIOUS version's grace ends (RFC
	// 3339). It is there only while a previous value is still live.
	TagRetireAfter = "rotplan:retire-after"
	// TagCreatedBy holds the id of the rotation that created the secret,
	// until that rotation is promoted, so that discarding it can delete
	// the secret again.
	TagCreatedBy = "rotplan:created-by"
	// TagFailed holds the id of the rotation whose AWSPENDING version
	// failed its checks and is being rolled back (MarkFailed). It marks
	// the pending version only while that version is the one the rotation
	// staged; Discard removes it with the label.
	TagFailed = "rotplan:failed"
	// TagTargetPrefix starts the tags that keep what a target asked to
	// record (providers.TargetRecorder), one per target block:
	// rotplan:target:ADDRESS.
	TagTargetPrefix = "rotplan:target:"
)

// listLag is how far behind ListSecrets may be: "ListSecrets might not
// reflect changes from the last five minutes" (the API reference and the
// SDK's doc of ListSecrets), and a minute more for the clocks.
const listLag = 6 * time.Minute

// ManagedByRotation is what Inspect reports as ManagedBy for a secret with
// AWS's own rotation turned on.
const ManagedByRotation = "AWS Secrets Manager rotation"

const (
	// listPageSize is ListSecrets' largest page.
	listPageSize = 100
	// filterValuesMax is how many values one ListSecrets filter takes.
	filterValuesMax = 10
	// batchGetMax is how many secrets one BatchGetSecretValue reads.
	batchGetMax = 20
)

var (
	// ErrPendingConflict means the secret's AWSPENDING version belongs to
	// another rotation, or to something other than rotplan.
	ErrPendingConflict = errors.New("a different pending value is already staged")
	// ErrNoPending means there is no pending version to promote.
	ErrNoPending = errors.New("no pending value")
)

// SecretsManager is store "aws_secretsmanager": secrets in AWS Secrets
// Manager, with AWS's staging labels for current, pending and previous.
type SecretsManager struct {
	provider providerSettings
	logger   hclog.Logger
	// policy is the shared retry policy the SDK client follows, and the
	// one that paces waiting for a deleted secret to go; tests shorten it.
	policy retry.Policy
	// now is what the store takes for the time, to tell a recent change
	// and to bound its waits; tests set the fake's clock.
	now func() time.Time

	mu     sync.Mutex
	client *secretsmanager.Client
}

var (
	_ providers.Store          = (*SecretsManager)(nil)
	_ providers.StoreWriter    = (*SecretsManager)(nil)
	_ providers.FailureMarker  = (*SecretsManager)(nil)
	_ providers.TargetRecorder = (*SecretsManager)(nil)
)

// NewSecretsManager returns the store for the provider "aws" block in
// s.Provider. The SDK client is made on first use, so an inventory that
// is only validated never loads AWS configuration.
func NewSecretsManager(s providers.Settings) (*SecretsManager, error) {
	p, err := decodeProvider(s.Provider)
	if err != nil {
		return nil, err
	}
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &SecretsManager{provider: p, logger: logger, policy: retry.Default(), now: time.Now}, nil
}

// api returns the SDK client, making it on first use.
func (sm *SecretsManager) api(ctx context.Context) (*secretsmanager.Client, error) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.client != nil {
		return sm.client, nil
	}
	cfg, err := sm.provider.loadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws_secretsmanager: %w", err)
	}
	sm.client = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.Logger = logging.Nop{}
		o.ClientLogMode = 0
		o.Retryer = retryer{policy: sm.policy}
	})
	return sm.client, nil
}

// secretRef is one secret's store block.
type secretRef struct {
	name    string // the secret's name in the inventory
	id      string // secret_id: a name or an ARN
	jsonKey string
}

func resolve(ref providers.SecretRef) (secretRef, error) {
	r := secretRef{name: ref.Name}
	var err error
	if r.id, err = providers.StringAttr(ref.Config, "secret_id"); err != nil {
		return r, fmt.Errorf("aws_secretsmanager: secret %q: %w", ref.Name, err)
	}
	if r.id == "" {
		return r, fmt.Errorf("aws_secretsmanager: secret %q: secret_id is empty", ref.Name)
	}
	if r.jsonKey, err = providers.StringAttr(ref.Config, "json_key"); err != nil {
		return r, fmt.Errorf("aws_secretsmanager %s: %w", r.id, err)
	}
	return r, nil
}

// errorf wraps an error with the secret it concerns.
func (r secretRef) errorf(format string, args ...any) error {
	return fmt.Errorf("aws_secretsmanager %s: "+format, append([]any{r.id}, args...)...)
}

// versionToken is the ClientRequestToken rotplan sends when it stages the
// value of rotation, and so the id of the version that holds it: a UUID
// (version 8) made from SHA-256 of the rotation id. The same rotation
// always gets the same token, which makes AWS treat a repeated
// PutSecretValue as the same request.
func versionToken(rotation string) string {
	sum := sha256.Sum256([]byte("rotplan rotation\x00" + rotation))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// secretMeta is what ListSecrets or DescribeSecret says about one secret.
type secretMeta struct {
	arn, name       string
	versions        map[string][]string // version id → staging labels
	tags            map[string]string
	created         time.Time
	lastChanged     time.Time
	deleted         time.Time
	rotationEnabled bool
	owningService   string
}

func metaOfEntry(e types.SecretListEntry) *secretMeta {
	return &secretMeta{
		arn: awssdk.ToString(e.ARN), name: awssdk.ToString(e.Name),
		versions: e.SecretVersionsToStages, tags: tagMap(e.Tags),
		created: awssdk.ToTime(e.CreatedDate), lastChanged: awssdk.ToTime(e.LastChangedDate), deleted: awssdk.ToTime(e.DeletedDate),
		rotationEnabled: awssdk.ToBool(e.RotationEnabled), owningService: awssdk.ToString(e.OwningService),
	}
}

func metaOfDescribe(d *secretsmanager.DescribeSecretOutput) *secretMeta {
	return &secretMeta{
		arn: awssdk.ToString(d.ARN), name: awssdk.ToString(d.Name),
		versions: d.VersionIdsToStages, tags: tagMap(d.Tags),
		created: awssdk.ToTime(d.CreatedDate), lastChanged: awssdk.ToTime(d.LastChangedDate), deleted: awssdk.ToTime(d.DeletedDate),
		rotationEnabled: awssdk.ToBool(d.RotationEnabled), owningService: awssdk.ToString(d.OwningService),
	}
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	return m
}

// labelled returns the id of the version that carries label, or "".
func (m *secretMeta) labelled(label string) string {
	for id, labels := range m.versions {
		for _, l := range labels {
			if l == label {
				return id
			}
		}
	}
	return ""
}

// changed is when the secret last changed, or else when it was created.
// Without a rotated-at tag it is the age of the current value.
func (m *secretMeta) changed() time.Time {
	if m.lastChanged.IsZero() {
		return m.created
	}
	return m.lastChanged
}

// failed reports whether rotation, which staged the pending version, is
// marked failed.
func (m *secretMeta) failed(rotation string) bool {
	return rotation != "" && m.tags[TagFailed] == rotation
}

// records returns what targets asked to record, by target address; nil
// when there is none.
func (m *secretMeta) records() map[string]string {
	var out map[string]string
	for k, v := range m.tags {
		if addr, ok := strings.CutPrefix(k, TagTargetPrefix); ok && addr != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[addr] = v
		}
	}
	return out
}

// managedBy names who else rotates the secret, or "".
func (m *secretMeta) managedBy() string {
	switch {
	case m.rotationEnabled:
		return ManagedByRotation
	case m.owningService != "":
		return "AWS service " + m.owningService
	}
	return ""
}

// stored converts the metadata; nil means the secret holds no version and
// nobody else manages it, so it counts as missing.
func (m *secretMeta) stored(r secretRef) *providers.StoredSecret {
	fail := func(format string, args ...any) *providers.StoredSecret {
		return &providers.StoredSecret{Err: r.errorf(format, args...)}
	}
	switch {
	case !m.deleted.IsZero() && m.tags[TagCreatedBy] != "":
		// The secret a rotation created and its rollback deleted again
		// (without recovery): AWS finishes deleting it in the background.
		// It holds nothing; a create waits for it to go.
		return nil
	case !m.deleted.IsZero():
		return fail("the secret is scheduled for deletion (deleted date %s): restore it with `aws secretsmanager restore-secret` to keep rotating it, or remove it from the inventory", m.deleted.UTC().Format(time.RFC3339))
	}
	rotation := m.tags[TagRotation]
	ours := ""
	if rotation != "" {
		ours = versionToken(rotation)
	}
	// ListSecrets has no per-version dates: the secret's last change stands
	// in for when its current and pending versions were written.
	changed := m.changed()
	version := func(id string) *providers.Version {
		if id == "" {
			return nil
		}
		v := &providers.Version{ID: id, CreatedAt: changed}
		if id == ours {
			v.Rotation = rotation
		}
		return v
	}
	st := &providers.StoredSecret{
		Current:   version(m.labelled(stageCurrent)),
		Pending:   version(m.labelled(stagePending)),
		ManagedBy: m.managedBy(),
		Records:   m.records(),
	}
	if st.Pending != nil {
		st.Pending.Failed = m.failed(st.Pending.Rotation)
	}
	if s, ok := m.tags[TagRotatedAt]; ok {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fail("tag %s is not an RFC 3339 time; fix or remove it", TagRotatedAt)
		}
		st.RotatedAt = t
	}
	// AWSPREVIOUS is AWS's history as much as rotplan's: it is a previous
	// value to retire only while rotplan's grace runs, that is while the
	// retire-after tag is there.
	if prev := m.labelled(stagePrevious); prev != "" {
		if s, ok := m.tags[TagRetireAfter]; ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return fail("tag %s is not an RFC 3339 time; fix or remove it", TagRetireAfter)
			}
			st.Previous = version(prev)
			st.Previous.CreatedAt = time.Time{}
			st.Previous.RetireAfter = t
		}
	}
	if st.Current == nil && st.Pending == nil && st.Previous == nil && st.ManagedBy == "" {
		return nil
	}
	return st
}

// Inspect reports each secret's versions and rotplan's tags.
//
// With req.Acts set (plan), it reads them from one ListSecrets walk (100
// secrets a page), reading no values: with at most ten distinct secrets it
// asks for them by name (one filter of up to ten prefixes), otherwise it
// lists the whole account and region once, ceil(secrets in the region /
// 100) calls whatever the inventory's size. ListSecrets may not reflect
// the last five minutes' changes, so it then confirms with DescribeSecret,
// which does, every secret plan would act on as listed (req.Acts), every
// secret the list shows changed within that time, and every secret the
// list did not show (a secret_id given as an ARN of another account's
// secret is only ever described). So a plan made right after an apply sees
// what the apply did, at one call per secret it acts on; a plan with
// nothing to do costs the list alone.
//
// With req.Acts nil (apply, about to change the secret), it describes
// each secret and lists nothing.
func (sm *SecretsManager) Inspect(ctx context.Context, req providers.InspectRequest) (*providers.InspectResponse, error) {
	resp := &providers.InspectResponse{Secrets: make(map[string]*providers.StoredSecret, len(req.Secrets))}
	var refs []secretRef
	for _, ref := range req.Secrets {
		r, err := resolve(ref)
		if err != nil {
			resp.Secrets[ref.Name] = &providers.StoredSecret{Err: err}
			continue
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 {
		return resp, nil
	}
	api, err := sm.api(ctx)
	if err != nil {
		return nil, err
	}
	var index map[string]*secretMeta
	if req.Acts != nil {
		if index, err = sm.list(ctx, api, refs); err != nil {
			return nil, err
		}
	}
	confirmed := 0
	for _, r := range refs {
		m := index[r.id]
		var st *providers.StoredSecret
		if m != nil {
			st = m.stored(r)
		}
		if req.Acts == nil || m == nil || sm.now().Sub(m.changed()) < listLag || req.Acts(r.name, st) {
			confirmed++
			if m, err = describe(ctx, api, r.id); err != nil {
				resp.Secrets[r.name] = &providers.StoredSecret{Err: r.errorf("describe secret: %w", err)}
				continue
			}
			st = nil
			if m != nil {
				st = m.stored(r)
			}
		}
		if st != nil {
			resp.Secrets[r.name] = st
		}
	}
	if req.Acts != nil {
		sm.logger.Debug("confirmed listed secrets with DescribeSecret", "secrets", len(refs), "described", confirmed)
	}
	return resp, nil
}

// list walks ListSecrets and indexes what it finds by name, ARN and
// partial ARN (the ARN without the six characters AWS appends).
func (sm *SecretsManager) list(ctx context.Context, api *secretsmanager.Client, refs []secretRef) (map[string]*secretMeta, error) {
	in := &secretsmanager.ListSecretsInput{
		MaxResults: awssdk.Int32(listPageSize),
		// A secret scheduled for deletion is reported as such, not as
		// missing: creating it again would fail.
		IncludePlannedDeletion: awssdk.Bool(true),
	}
	if prefixes := namePrefixes(refs); len(prefixes) <= filterValuesMax {
		in.Filters = []types.Filter{{Key: types.FilterNameStringTypeName, Values: prefixes}}
	}
	index := map[string]*secretMeta{}
	partial := map[string]*secretMeta{}
	pages, found := 0, 0
	for {
		out, err := api.ListSecrets(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("aws_secretsmanager: list secrets: %w", err)
		}
		pages++
		found += len(out.SecretList)
		for _, e := range out.SecretList {
			m := metaOfEntry(e)
			index[m.name] = m
			index[m.arn] = m
			if len(m.arn) > 7 {
				partial[m.arn[:len(m.arn)-7]] = m
			}
		}
		next := awssdk.ToString(out.NextToken)
		if next == "" {
			break
		}
		if next == awssdk.ToString(in.NextToken) {
			return nil, errors.New("aws_secretsmanager: list secrets: the service returned the same page token twice")
		}
		in.NextToken = out.NextToken
	}
	for k, m := range partial {
		if index[k] == nil {
			index[k] = m
		}
	}
	sm.logger.Debug("listed secrets", "pages", pages, "filtered", in.Filters != nil, "found", found)
	return index, nil
}

// namePrefixes returns the distinct name prefixes that find refs with
// ListSecrets' name filter (a case-insensitive prefix match).
func namePrefixes(refs []secretRef) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range refs {
		p := r.id
		if isARN(p) {
			p = arnName(p)
		}
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

func isARN(id string) bool { return strings.HasPrefix(id, "arn:") }

// arnName returns the secret name an ARN points at, less the six
// characters AWS appends to a full ARN; for a partial ARN it may cut a
// real part of the name, which as a prefix still finds it.
func arnName(arn string) string {
	_, name, ok := strings.Cut(arn, ":secret:")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(name, '-'); i > 0 && len(name)-i == 7 {
		name = name[:i]
	}
	return name
}

// describe returns one secret's metadata, nil when it does not exist.
func describe(ctx context.Context, api *secretsmanager.Client, id string) (*secretMeta, error) {
	out, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(id)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return metaOfDescribe(out), nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Read returns each secret's value in req.Slot. Current values come from
// BatchGetSecretValue, 20 secrets a call (one GetSecretValue each when the
// credentials may not batch, or an emulator cannot); pending and previous ones from
// GetSecretValue by staging label. With json_key the value is that key's
// string in the secret's JSON object; a key that is not there is no value.
func (sm *SecretsManager) Read(ctx context.Context, req providers.ReadRequest) (*providers.ReadResponse, error) {
	resp := &providers.ReadResponse{
		Values: make(map[string]sensitive.Value, len(req.Secrets)),
		Errors: map[string]error{},
	}
	var refs []secretRef
	for _, ref := range req.Secrets {
		r, err := resolve(ref)
		if err != nil {
			resp.Errors[ref.Name] = err
			continue
		}
		refs = append(refs, r)
	}
	if len(refs) == 0 {
		return resp, nil
	}
	api, err := sm.api(ctx)
	if err != nil {
		return nil, err
	}
	stage := stageOf(req.Slot)
	if stage == stageCurrent {
		refs = sm.readBatches(ctx, api, refs, resp)
	}
	for _, r := range refs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(r.id), VersionStage: awssdk.String(stage)})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			resp.Errors[r.name] = r.errorf("get secret value (%s): %w", stage, err)
			continue
		}
		record(resp, r, out.SecretString, out.SecretBinary)
	}
	return resp, nil
}

func stageOf(s providers.Slot) string {
	switch s {
	case providers.SlotPending:
		return stagePending
	case providers.SlotPrevious:
		return stagePrevious
	}
	return stageCurrent
}

// batchUnavailable lists the error codes that mean BatchGetSecretValue
// cannot be used here: the credentials may not call it, or an emulator
// lacks it.
var batchUnavailable = map[string]bool{
	"AccessDeniedException":     true,
	"UnknownOperationException": true,
	"InvalidAction":             true,
}

// readBatches reads current values 20 secrets a call and returns the refs
// it could not batch, for GetSecretValue one by one.
func (sm *SecretsManager) readBatches(ctx context.Context, api *secretsmanager.Client, refs []secretRef, resp *providers.ReadResponse) []secretRef {
	for start := 0; start < len(refs); start += batchGetMax {
		chunk := refs[start:min(start+batchGetMax, len(refs))]
		if err := sm.readBatch(ctx, api, chunk, resp); err != nil {
			if code := errorCode(err); batchUnavailable[code] {
				sm.logger.Debug("BatchGetSecretValue not allowed; reading one secret at a time", "error_code", code)
				return refs[start:]
			}
			for _, r := range chunk {
				resp.Errors[r.name] = r.errorf("batch get secret value: %w", err)
			}
		}
	}
	return nil
}

func (sm *SecretsManager) readBatch(ctx context.Context, api *secretsmanager.Client, chunk []secretRef, resp *providers.ReadResponse) error {
	var ids []string
	seen := map[string]bool{}
	for _, r := range chunk {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	in := &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids}
	for {
		out, err := api.BatchGetSecretValue(ctx, in)
		if err != nil {
			return err
		}
		for _, e := range out.SecretValues {
			for _, r := range chunk {
				if matches(r.id, awssdk.ToString(e.Name), awssdk.ToString(e.ARN)) {
					record(resp, r, e.SecretString, e.SecretBinary)
				}
			}
		}
		for _, e := range out.Errors {
			code := awssdk.ToString(e.ErrorCode)
			if code == "ResourceNotFoundException" {
				continue
			}
			for _, r := range chunk {
				if r.id == awssdk.ToString(e.SecretId) {
					resp.Errors[r.name] = r.errorf("batch get secret value: %s: %s", code, awssdk.ToString(e.Message))
				}
			}
		}
		if awssdk.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// matches reports whether a secret_id names the secret with this name and
// ARN: the name, the ARN, or the ARN less its six random characters.
func matches(id, name, arn string) bool {
	return id == name || id == arn || (len(arn) > 7 && id == arn[:len(arn)-7])
}

// record puts r's value, from a secret string or binary, into resp.
func record(resp *providers.ReadResponse, r secretRef, s *string, b []byte) {
	v, ok, err := r.value(s, b)
	switch {
	case err != nil:
		resp.Errors[r.name] = err
	case ok:
		resp.Values[r.name] = v
	}
}

// value extracts r's value from a version's secret string or binary;
// false means the version holds none for r (no json_key there). Errors
// never quote the secret's content.
func (r secretRef) value(s *string, b []byte) (sensitive.Value, bool, error) {
	if r.jsonKey == "" {
		switch {
		case s != nil:
			return sensitive.New(*s), true, nil
		case b != nil:
			return sensitive.FromBytes(b), true, nil
		}
		return sensitive.Value{}, false, nil
	}
	if s == nil {
		return sensitive.Value{}, false, r.errorf("json_key %q: the secret holds binary data, not a JSON object", r.jsonKey)
	}
	obj, err := r.object(*s)
	if err != nil {
		return sensitive.Value{}, false, err
	}
	raw, ok := obj[r.jsonKey]
	if !ok {
		return sensitive.Value{}, false, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return sensitive.Value{}, false, r.errorf("json_key %q: the key's value is not a JSON string", r.jsonKey)
	}
	return sensitive.New(v), true, nil
}

// object parses a secret string as a JSON object. The decoder's own error
// would quote a character of the secret, so it is dropped.
func (r secretRef) object(s string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &obj); err != nil || obj == nil {
		return nil, r.errorf("json_key %q: the secret string is not a JSON object", r.jsonKey)
	}
	return obj, nil
}
