package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Stage writes req.Value as the secret's AWSPENDING version with
// PutSecretValue, ClientRequestToken versionToken(req.Rotation), leaving
// AWSCURRENT where it is. It first records the rotation in the
// rotplan:rotation tag, so that Inspect can tell the version is rotplan's
// and which rotation made it. A secret with a current value and no
// rotplan:rotated-at tag (rotplan never promoted a value here) gets one in
// the same call, holding the age Inspect gave the value until then (its
// last-changed date): staging, and discarding when a rotation rolls back,
// change that date, and the secret must stay as due as it was. With
// json_key the version is the current JSON object with that key set. A
// secret that does not exist is created (from a name, not an ARN) with no
// value first; AWS then makes the first version current as well as
// pending.
//
// Staging a rotation that is already pending or current changes nothing
// (a failed mark stays), and AWS's own rule makes a repeated PutSecretValue
// with the same token and value a no-op. A rotplan:failed tag left by
// another rotation (a discard that stopped between its two calls) is
// removed. An AWSPENDING version of another rotation, or one
// rotplan did not stage, fails with ErrPendingConflict and is left alone.
func (sm *SecretsManager) Stage(ctx context.Context, req providers.StageRequest) (*providers.StageResponse, error) {
	r, api, err := sm.start(ctx, req.Secret, req.Rotation, "stage", true)
	if err != nil {
		return nil, err
	}
	token := versionToken(req.Rotation)
	m, err := describe(ctx, api, r.id)
	if err != nil {
		return nil, r.errorf("describe secret: %w", err)
	}
	if m != nil && !m.deleted.IsZero() && m.tags[TagCreatedBy] != "" {
		// A rolled-back rotation created it and deleted it again: wait
		// until AWS has.
		if m, err = sm.awaitGone(ctx, api, r); err != nil {
			return nil, err
		}
	}
	if m == nil {
		if isARN(r.id) {
			return nil, r.errorf("stage rotation %s: the secret does not exist, and rotplan creates a secret only from a name, not an ARN", req.Rotation)
		}
		if m, err = sm.create(ctx, api, r, req.Rotation); err != nil {
			return nil, err
		}
	}
	if err := writable(r, m); err != nil {
		return nil, err
	}
	current, pending := m.labelled(stageCurrent), m.labelled(stagePending)
	switch {
	case pending == token || current == token:
		return &providers.StageResponse{}, nil // staged before
	case pending != "":
		return nil, r.errorf("stage rotation %s: %w", req.Rotation, conflict(m, pending))
	}
	tags := map[string]string{}
	if m.tags[TagRotation] != req.Rotation {
		tags[TagRotation] = req.Rotation
	}
	if _, ok := m.tags[TagRotatedAt]; !ok && current != "" {
		if basis := m.changed(); !basis.IsZero() {
			tags[TagRotatedAt] = basis.UTC().Format(time.RFC3339)
		}
	}
	if len(tags) > 0 {
		if err := tag(ctx, api, r, tags); err != nil {
			return nil, err
		}
	}
	if failed, ok := m.tags[TagFailed]; ok && failed != req.Rotation {
		if err := untag(ctx, api, r, TagFailed); err != nil {
			return nil, err
		}
	}
	value := req.Value.Reveal()
	if r.jsonKey != "" {
		if value, err = sm.withKey(ctx, api, r, current, req.Value); err != nil {
			return nil, err
		}
	}
	out, err := api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           awssdk.String(r.id),
		ClientRequestToken: awssdk.String(token),
		SecretString:       awssdk.String(value),
		VersionStages:      []string{stagePending},
	})
	if err != nil {
		return nil, r.errorf("put secret value: %w", err)
	}
	if !slices.Contains(out.VersionStages, stagePending) {
		// The version was there already, without labels (AWS kept the
		// request as a no-op): label it.
		if err := moveLabel(ctx, api, r, stagePending, token, ""); err != nil {
			return nil, err
		}
	}
	sm.logger.Debug("staged", "secret_id", r.id, "rotation", req.Rotation)
	return &providers.StageResponse{}, nil
}

// Promote makes rotation req.Rotation's version current: it tags the
// secret with rotplan:rotated-at (and, when a value is replaced,
// rotplan:retire-after = req.RetireAfter), moves AWSCURRENT to the version
// (AWS moves AWSPREVIOUS to the one it leaves) and takes AWSPENDING off
// it. The tags come first: until AWSPENDING is gone the secret shows a
// rotation in progress, so a crash at any point is resumed by promoting
// again. A rotation that is already current only gets any tags it misses.
// A pending version of another rotation fails with ErrPendingConflict,
// nothing pending with ErrNoPending, and one marked failed (MarkFailed)
// with providers.ErrPendingFailed, before any call that changes the secret.
func (sm *SecretsManager) Promote(ctx context.Context, req providers.PromoteRequest) (*providers.PromoteResponse, error) {
	r, api, err := sm.start(ctx, req.Secret, req.Rotation, "promote", true)
	if err != nil {
		return nil, err
	}
	token := versionToken(req.Rotation)
	m, err := describe(ctx, api, r.id)
	if err != nil {
		return nil, r.errorf("describe secret: %w", err)
	}
	if m == nil {
		return nil, r.errorf("promote rotation %s: the secret does not exist: %w", req.Rotation, ErrNoPending)
	}
	current, pending, previous := m.labelled(stageCurrent), m.labelled(stagePending), m.labelled(stagePrevious)
	if pending == token && m.failed(req.Rotation) {
		return nil, r.errorf("promote rotation %s: %w; discard it", req.Rotation, providers.ErrPendingFailed)
	}
	tags := map[string]string{TagRotatedAt: req.Now.UTC().Format(time.RFC3339)}
	switch {
	case current == token && pending != token:
		// Promoted before. Only the tags may be missing.
		if _, ok := m.tags[TagRotatedAt]; ok {
			tags = nil
		} else if previous != "" {
			tags[TagRetireAfter] = req.RetireAfter.UTC().Format(time.RFC3339)
		}
	case current == token:
		// The secret's first version (AWS made it current when it was
		// put), or a promote that stopped before taking AWSPENDING off.
		if previous != "" {
			tags[TagRetireAfter] = req.RetireAfter.UTC().Format(time.RFC3339)
		}
	case pending == token:
		if current != "" {
			tags[TagRetireAfter] = req.RetireAfter.UTC().Format(time.RFC3339)
		}
	case pending == "":
		return nil, r.errorf("promote rotation %s: it staged nothing here and is not current: %w", req.Rotation, ErrNoPending)
	default:
		return nil, r.errorf("promote rotation %s: %w", req.Rotation, conflict(m, pending))
	}
	if tags != nil {
		if err := tag(ctx, api, r, tags); err != nil {
			return nil, err
		}
	}
	if current != token {
		if err := moveLabel(ctx, api, r, stageCurrent, token, current); err != nil {
			return nil, err
		}
	}
	if pending == token {
		if err := moveLabel(ctx, api, r, stagePending, "", token); err != nil {
			return nil, err
		}
	}
	if _, ok := m.tags[TagCreatedBy]; ok {
		if err := untag(ctx, api, r, TagCreatedBy); err != nil {
			return nil, err
		}
	}
	sm.logger.Debug("promoted", "secret_id", r.id, "rotation", req.Rotation)
	return &providers.PromoteResponse{}, nil
}

// Discard takes AWSPENDING off rotation req.Rotation's version; AWS then
// deprecates the version. When the rotation made the secret's first
// version, which AWS made current too: a secret that rotation created is
// deleted again (without a recovery window), and otherwise the candidate
// stays current, with a warning in the log. The rotplan:failed tag of the
// rotation goes after the label, so a discard that stops in between leaves
// nothing marked pending, and the next discard removes the tag. Nothing
// pending is a no-op; a pending version of another rotation is left alone
// and fails with ErrPendingConflict.
func (sm *SecretsManager) Discard(ctx context.Context, req providers.DiscardRequest) (*providers.DiscardResponse, error) {
	r, api, err := sm.start(ctx, req.Secret, req.Rotation, "discard", true)
	if err != nil {
		return nil, err
	}
	token := versionToken(req.Rotation)
	m, err := describe(ctx, api, r.id)
	if err != nil {
		return nil, r.errorf("describe secret: %w", err)
	}
	if m == nil {
		return &providers.DiscardResponse{}, nil
	}
	current, pending := m.labelled(stageCurrent), m.labelled(stagePending)
	switch {
	case pending == "":
		if err := unmark(ctx, api, r, m, req.Rotation); err != nil {
			return nil, err
		}
		return &providers.DiscardResponse{}, nil
	case pending != token:
		return nil, r.errorf("discard rotation %s: %w; it is left alone", req.Rotation, conflict(m, pending))
	case current == token && m.tags[TagCreatedBy] == req.Rotation:
		_, err := api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: awssdk.String(r.id), ForceDeleteWithoutRecovery: awssdk.Bool(true)})
		if err != nil && !isNotFound(err) {
			return nil, r.errorf("delete the secret this rotation created: %w", err)
		}
		sm.logger.Info("deleted the secret the discarded rotation created", "secret_id", r.id, "rotation", req.Rotation)
		return &providers.DiscardResponse{}, nil
	case current == token:
		sm.logger.Warn("the secret held no value before this rotation, so AWS made the discarded value current; it stays current", "secret_id", r.id, "rotation", req.Rotation)
	}
	if err := moveLabel(ctx, api, r, stagePending, "", token); err != nil {
		return nil, err
	}
	if err := unmark(ctx, api, r, m, req.Rotation); err != nil {
		return nil, err
	}
	return &providers.DiscardResponse{}, nil
}

// unmark removes the rotplan:failed tag when it names rotation.
func unmark(ctx context.Context, api *secretsmanager.Client, r secretRef, m *secretMeta, rotation string) error {
	if m.tags[TagFailed] != rotation {
		return nil
	}
	return untag(ctx, api, r, TagFailed)
}

// MarkFailed tags the secret with rotplan:failed = req.Rotation (one
// DescribeSecret, one TagResource) when that rotation's version holds
// AWSPENDING. ListSecrets returns the tag with the labels, so Inspect
// reports Pending.Failed with no extra call; Promote then refuses the
// version and Discard removes the tag with the label. Marking it again,
// or nothing pending (the rollback discarded it already), makes no write;
// an AWSPENDING version of another rotation, or one rotplan did not stage,
// is left alone and fails with ErrPendingConflict.
func (sm *SecretsManager) MarkFailed(ctx context.Context, req providers.MarkFailedRequest) (*providers.MarkFailedResponse, error) {
	r, api, err := sm.start(ctx, req.Secret, req.Rotation, "mark failed", true)
	if err != nil {
		return nil, err
	}
	m, err := describe(ctx, api, r.id)
	if err != nil {
		return nil, r.errorf("describe secret: %w", err)
	}
	if m == nil {
		return &providers.MarkFailedResponse{}, nil
	}
	switch pending := m.labelled(stagePending); {
	case pending == "":
		return &providers.MarkFailedResponse{}, nil
	case pending != versionToken(req.Rotation):
		return nil, r.errorf("mark rotation %s failed: %w; it is left alone", req.Rotation, conflict(m, pending))
	case m.failed(req.Rotation):
		return &providers.MarkFailedResponse{}, nil // marked before
	}
	if err := tag(ctx, api, r, map[string]string{TagFailed: req.Rotation}); err != nil {
		return nil, err
	}
	sm.logger.Debug("marked failed", "secret_id", r.id, "rotation", req.Rotation)
	return &providers.MarkFailedResponse{}, nil
}

// RetirePrevious takes AWSPREVIOUS off the previous version (AWS then
// deprecates it) and removes the rotplan:retire-after tag. Nothing
// previous is a no-op.
func (sm *SecretsManager) RetirePrevious(ctx context.Context, req providers.RetirePreviousRequest) (*providers.RetirePreviousResponse, error) {
	r, api, err := sm.start(ctx, req.Secret, "", "retire", false)
	if err != nil {
		return nil, err
	}
	m, err := describe(ctx, api, r.id)
	if err != nil {
		return nil, r.errorf("describe secret: %w", err)
	}
	if m == nil {
		return &providers.RetirePreviousResponse{}, nil
	}
	if previous := m.labelled(stagePrevious); previous != "" {
		if err := moveLabel(ctx, api, r, stagePrevious, "", previous); err != nil {
			return nil, err
		}
	}
	if _, ok := m.tags[TagRetireAfter]; ok {
		if err := untag(ctx, api, r, TagRetireAfter); err != nil {
			return nil, err
		}
	}
	return &providers.RetirePreviousResponse{}, nil
}

// start resolves a writer's secret and client, checking that a rotation id
// is there when the operation needs one.
func (sm *SecretsManager) start(ctx context.Context, ref providers.SecretRef, rotation, op string, needRotation bool) (secretRef, *secretsmanager.Client, error) {
	r, err := resolve(ref)
	if err != nil {
		return r, nil, err
	}
	if needRotation && rotation == "" {
		return r, nil, r.errorf("%s: a rotation id is required", op)
	}
	api, err := sm.api(ctx)
	if err != nil {
		return r, nil, err
	}
	return r, api, nil
}

// goneWithin bounds how long a stage waits for AWS to finish deleting a
// secret deleted without recovery, before it creates the secret again.
const goneWithin = 2 * time.Minute

// awaitGone waits, backing off as the shared policy does, until a secret
// deleted without recovery is gone (DescribeSecret finds nothing), at most
// goneWithin; it returns the secret's metadata if it came back (restored)
// and an error if it is still being deleted then.
func (sm *SecretsManager) awaitGone(ctx context.Context, api *secretsmanager.Client, r secretRef) (*secretMeta, error) {
	deadline := sm.now().Add(goneWithin)
	for round := 1; ; round++ {
		if err := sm.policy.Pause(ctx, sm.policy.Backoff(round)); err != nil {
			return nil, err
		}
		m, err := describe(ctx, api, r.id)
		switch {
		case err != nil:
			return nil, r.errorf("describe secret: %w", err)
		case m == nil || m.deleted.IsZero():
			return m, nil
		case !sm.now().Before(deadline):
			return nil, r.errorf("the secret a rolled-back rotation created is still scheduled for deletion after %s: if it was deleted with a recovery window, restore it (`aws secretsmanager restore-secret`) or delete it for good (`aws secretsmanager delete-secret --force-delete-without-recovery`); otherwise run apply again in a few minutes", goneWithin)
		}
	}
}

// errScheduledForDeletion is how CreateSecret refuses a name whose secret
// AWS is still deleting: InvalidRequestException, "You can't create this
// secret because a secret with this name is already scheduled for
// deletion."
func isScheduledForDeletion(err error) bool {
	return errorCode(err) == "InvalidRequestException" && strings.Contains(strings.ToLower(err.Error()), "scheduled for deletion")
}

// create makes an empty secret named r.id, tagged as created by rotation.
// A name AWS is still deleting (a secret deleted without recovery a moment
// ago: DeleteSecret's documentation asks to back off and retry) is tried
// again, backing off, for at most goneWithin.
func (sm *SecretsManager) create(ctx context.Context, api *secretsmanager.Client, r secretRef, rotation string) (*secretMeta, error) {
	tags := map[string]string{TagRotation: rotation, TagCreatedBy: rotation}
	in := &secretsmanager.CreateSecretInput{
		Name:        awssdk.String(r.id),
		Description: awssdk.String("Created by rotplan."),
		Tags:        tagList(tags),
	}
	deadline := sm.now().Add(goneWithin)
	out, err := api.CreateSecret(ctx, in)
	for round := 1; isScheduledForDeletion(err) && sm.now().Before(deadline); round++ {
		if err := sm.policy.Pause(ctx, sm.policy.Backoff(round)); err != nil {
			return nil, err
		}
		out, err = api.CreateSecret(ctx, in)
	}
	if errorCode(err) == "ResourceExistsException" {
		// Created since we looked.
		m, err := describe(ctx, api, r.id)
		if err == nil && m == nil {
			err = fmt.Errorf("it exists and does not")
		}
		if err != nil {
			return nil, r.errorf("describe secret: %w", err)
		}
		return m, nil
	}
	if isScheduledForDeletion(err) {
		return nil, r.errorf("create secret: AWS is still deleting a secret of this name after %s; run apply again in a few minutes: %w", goneWithin, err)
	}
	if err != nil {
		return nil, r.errorf("create secret: %w", err)
	}
	sm.logger.Info("created secret", "secret_id", r.id, "rotation", rotation)
	return &secretMeta{arn: awssdk.ToString(out.ARN), name: awssdk.ToString(out.Name), tags: tags}, nil
}

// writable refuses a secret apply must not stage in.
func writable(r secretRef, m *secretMeta) error {
	if !m.deleted.IsZero() {
		return r.errorf("the secret is scheduled for deletion: restore it with `aws secretsmanager restore-secret` first")
	}
	if by := m.managedBy(); by != "" {
		return r.errorf("its rotation is managed by %s; rotplan does not rotate it as well", by)
	}
	return nil
}

// conflict describes a pending version that is not the caller's.
func conflict(m *secretMeta, pending string) error {
	if rot := m.tags[TagRotation]; rot != "" && versionToken(rot) == pending {
		return fmt.Errorf("the pending value (AWSPENDING) belongs to rotation %s: %w", rot, ErrPendingConflict)
	}
	return fmt.Errorf("the pending value (AWSPENDING, version %s) was not staged by rotplan: a rotation is under way elsewhere; finish it or take AWSPENDING off that version: %w", pending, ErrPendingConflict)
}

// withKey returns the JSON object of the secret's current version (or an
// empty one) with r.jsonKey set to v, other keys unchanged.
func (sm *SecretsManager) withKey(ctx context.Context, api *secretsmanager.Client, r secretRef, current string, v sensitive.Value) (string, error) {
	obj := map[string]json.RawMessage{}
	if current != "" {
		out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(r.id), VersionId: awssdk.String(current)})
		if err != nil {
			return "", r.errorf("get current value to set json_key %q: %w", r.jsonKey, err)
		}
		if out.SecretString == nil {
			return "", r.errorf("json_key %q: the secret holds binary data, not a JSON object", r.jsonKey)
		}
		if obj, err = r.object(*out.SecretString); err != nil {
			return "", err
		}
	}
	raw, err := marshal(v.Reveal())
	if err != nil {
		return "", r.errorf("json_key %q: encode the value", r.jsonKey)
	}
	obj[r.jsonKey] = raw
	doc, err := marshal(obj)
	if err != nil {
		return "", r.errorf("json_key %q: encode the secret's JSON object", r.jsonKey)
	}
	return string(doc), nil
}

// marshal encodes v as compact JSON, keys sorted, without escaping HTML
// characters (other tools read the secret too).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// moveLabel puts label on version to (when set) and takes it off version
// from (when set).
func moveLabel(ctx context.Context, api *secretsmanager.Client, r secretRef, label, to, from string) error {
	in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: awssdk.String(r.id), VersionStage: awssdk.String(label)}
	if to != "" {
		in.MoveToVersionId = awssdk.String(to)
	}
	if from != "" {
		in.RemoveFromVersionId = awssdk.String(from)
	}
	if _, err := api.UpdateSecretVersionStage(ctx, in); err != nil {
		return r.errorf("update secret version stage %s: %w", label, err)
	}
	return nil
}

func tag(ctx context.Context, api *secretsmanager.Client, r secretRef, tags map[string]string) error {
	if _, err := api.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: awssdk.String(r.id), Tags: tagList(tags)}); err != nil {
		return r.errorf("tag resource: %w", err)
	}
	return nil
}

func untag(ctx context.Context, api *secretsmanager.Client, r secretRef, keys ...string) error {
	if _, err := api.UntagResource(ctx, &secretsmanager.UntagResourceInput{SecretId: awssdk.String(r.id), TagKeys: keys}); err != nil {
		return r.errorf("untag resource: %w", err)
	}
	return nil
}

// tagList returns tags sorted by key.
func tagList(tags map[string]string) []types.Tag {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]types.Tag, len(keys))
	for i, k := range keys {
		out[i] = types.Tag{Key: awssdk.String(k), Value: awssdk.String(tags[k])}
	}
	return out
}

// RecordTargets keeps what targets asked to record as tags
// rotplan:target:ADDRESS, in one TagResource call after a DescribeSecret.
// A secret whose age rotplan has not recorded yet (no rotplan:rotated-at)
// gets it in the same call, set to the last-changed date plan dated it
// from: a tag moves that date, and the secret must stay as due as it was.
func (sm *SecretsManager) RecordTargets(ctx context.Context, req providers.RecordTargetsRequest) (*providers.RecordTargetsResponse, error) {
	r, api, err := sm.start(ctx, req.Secret, "", "record targets", false)
	if err != nil {
		return nil, err
	}
	m, err := describe(ctx, api, r.id)
	if err != nil {
		return nil, r.errorf("describe secret: %w", err)
	}
	if m == nil || !m.deleted.IsZero() {
		return &providers.RecordTargetsResponse{}, nil
	}
	tags := map[string]string{}
	for addr, rec := range req.Records {
		if m.tags[TagTargetPrefix+addr] != rec {
			tags[TagTargetPrefix+addr] = rec
		}
	}
	if len(tags) == 0 {
		return &providers.RecordTargetsResponse{}, nil
	}
	if _, ok := m.tags[TagRotatedAt]; !ok && m.labelled(stageCurrent) != "" {
		if basis := m.changed(); !basis.IsZero() {
			tags[TagRotatedAt] = basis.UTC().Format(time.RFC3339)
		}
	}
	if err := tag(ctx, api, r, tags); err != nil {
		return nil, err
	}
	return &providers.RecordTargetsResponse{}, nil
}
