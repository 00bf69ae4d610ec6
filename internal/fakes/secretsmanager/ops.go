package secretsmanager

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// operations answers each X-Amz-Target; handlers run under s.mu.
var operations = map[string]func(*Server, []byte) (any, *apiError){
	"ListSecrets":              (*Server).listSecrets,
	"DescribeSecret":           (*Server).describeSecret,
	"GetSecretValue":           (*Server).getSecretValue,
	"BatchGetSecretValue":      (*Server).batchGetSecretValue,
	"PutSecretValue":           (*Server).putSecretValue,
	"UpdateSecretVersionStage": (*Server).updateSecretVersionStage,
	"CreateSecret":             (*Server).createSecret,
	"DeleteSecret":             (*Server).deleteSecret,
	"RestoreSecret":            (*Server).restoreSecret,
	"TagResource":              (*Server).tagResource,
	"UntagResource":            (*Server).untagResource,
}

// readOnly lists the operations that change nothing.
var readOnly = map[string]bool{"ListSecrets": true, "DescribeSecret": true, "GetSecretValue": true, "BatchGetSecretValue": true}

type filter struct {
	Key    string
	Values []string
}

var filterKeys = map[string]bool{"description": true, "name": true, "tag-key": true, "tag-value": true, "primary-region": true, "owning-service": true, "all": true}

func checkFilters(fs []filter) *apiError {
	for _, f := range fs {
		if !filterKeys[f.Key] {
			return errorf(errInvalidParameter, "Invalid filter key: %s.", f.Key)
		}
		if len(f.Values) == 0 || len(f.Values) > 10 {
			return errorf(errInvalidParameter, "A filter takes 1 to 10 values.")
		}
	}
	return nil
}

// matches applies ListSecrets' filters: within a filter any value may
// match (a case-insensitive prefix; "!" negates), and every filter must.
func (sec *secret) matches(fs []filter) bool {
	for _, f := range fs {
		var fields []string
		switch f.Key {
		case "name":
			fields = []string{sec.name}
		case "description":
			fields = []string{sec.description}
		case "owning-service":
			fields = []string{sec.owningService}
		case "primary-region":
			fields = []string{Region}
		case "tag-key", "tag-value", "all":
			if f.Key == "all" {
				fields = []string{sec.name, sec.description}
			}
			for _, t := range sec.tags {
				if f.Key != "tag-value" {
					fields = append(fields, t.key)
				}
				if f.Key != "tag-key" {
					fields = append(fields, t.value)
				}
			}
		}
		matched := false
		for _, v := range f.Values {
			neg := strings.HasPrefix(v, "!")
			v = strings.ToLower(strings.TrimPrefix(v, "!"))
			hit := false
			for _, field := range fields {
				if strings.HasPrefix(strings.ToLower(field), v) {
					hit = true
				}
			}
			if hit != neg {
				matched = true
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

func (s *Server) listSecrets(body []byte) (any, *apiError) {
	var in struct {
		Filters                []filter
		IncludePlannedDeletion bool
		MaxResults             *int
		NextToken              string
		SortOrder              string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkFilters(in.Filters); err != nil {
		return nil, err
	}
	limit := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, errorf(errInvalidParameter, "MaxResults must be between 1 and 100.")
		}
		limit = *in.MaxResults
	}
	start := 0
	if in.NextToken != "" {
		n, err := parseToken(in.NextToken)
		if err != nil {
			return nil, errorf(errInvalidNextToken, "The NextToken value is invalid.")
		}
		start = n
	}
	var all []*secret
	for _, sec := range s.listed() {
		if (sec.deleted.IsZero() || in.IncludePlannedDeletion) && sec.matches(in.Filters) {
			all = append(all, sec)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].created.Equal(all[j].created) {
			return all[i].created.Before(all[j].created)
		}
		return all[i].name < all[j].name
	})
	if in.SortOrder == "desc" {
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
	}
	if start > len(all) {
		return nil, errorf(errInvalidNextToken, "The NextToken value is invalid.")
	}
	end := min(start+limit, len(all))
	list := []map[string]any{}
	for _, sec := range all[start:end] {
		e := sec.metadata()
		e["SecretVersionsToStages"] = sec.stages()
		list = append(list, e)
	}
	out := map[string]any{"SecretList": list}
	if end < len(all) {
		out["NextToken"] = makeToken(end)
	}
	return out, nil
}

func makeToken(n int) string {
	return base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(n)))
}

func parseToken(tok string) (int, error) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	rest, ok := strings.CutPrefix(string(b), "offset:")
	if !ok {
		return 0, fmt.Errorf("bad token")
	}
	return strconv.Atoi(rest)
}

// metadata is what ListSecrets and DescribeSecret share.
func (sec *secret) metadata() map[string]any {
	m := map[string]any{
		"ARN":             sec.arn,
		"Name":            sec.name,
		"CreatedDate":     epoch(sec.created),
		"LastChangedDate": epoch(sec.lastChanged),
		"Tags":            sec.tagList(),
	}
	if sec.description != "" {
		m["Description"] = sec.description
	}
	if sec.rotationEnabled {
		m["RotationEnabled"] = true
	}
	if sec.owningService != "" {
		m["OwningService"] = sec.owningService
	}
	if !sec.deleted.IsZero() {
		m["DeletedDate"] = epoch(sec.deleted)
	}
	return m
}

// stages maps the id of each version that has labels to its labels.
func (sec *secret) stages() map[string][]string {
	out := map[string][]string{}
	for id, v := range sec.versions {
		if len(v.labels) > 0 {
			out[id] = append([]string{}, v.labels...)
		}
	}
	return out
}

func (sec *secret) tagList() []map[string]string {
	out := []map[string]string{}
	for _, t := range sec.tags {
		out = append(out, map[string]string{"Key": t.key, "Value": t.value})
	}
	return out
}

func (s *Server) describeSecret(body []byte) (any, *apiError) {
	var in struct{ SecretId string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	out := sec.metadata()
	out["VersionIdsToStages"] = sec.stages()
	return out, nil
}

func (s *Server) getSecretValue(body []byte) (any, *apiError) {
	var in struct{ SecretId, VersionId, VersionStage string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	v, err := sec.version(in.VersionId, in.VersionStage)
	if err != nil {
		return nil, err
	}
	return sec.value(v), nil
}

// version finds the version GetSecretValue asks for: by id, by label, or
// AWSCURRENT; with both, they must agree.
func (sec *secret) version(id, label string) (*version, *apiError) {
	if id == "" && label == "" {
		label = Current
	}
	var v *version
	if id != "" {
		if v = sec.versions[id]; v == nil {
			return nil, errorf(errNotFound, "Secrets Manager can't find the specified secret value for VersionId: %s", id)
		}
		if label != "" && !contains(v.labels, label) {
			return nil, errorf(errInvalidRequest, "You provided a VersionStage that is not associated to the provided VersionId.")
		}
		return v, nil
	}
	if v = sec.labelled(label); v == nil {
		return nil, errorf(errNotFound, "Secrets Manager can't find the specified secret value for staging label: %s", label)
	}
	return v, nil
}

func (sec *secret) value(v *version) map[string]any {
	out := map[string]any{
		"ARN":           sec.arn,
		"Name":          sec.name,
		"VersionId":     v.id,
		"VersionStages": append([]string{}, v.labels...),
		"CreatedDate":   epoch(v.added),
	}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = base64.StdEncoding.EncodeToString(v.bin)
	}
	return out
}

func (s *Server) batchGetSecretValue(body []byte) (any, *apiError) {
	var in struct {
		SecretIdList []string
		Filters      []filter
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.SecretIdList) > 0 && len(in.Filters) > 0 {
		return nil, errorf(errInvalidParameter, "Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	}
	if len(in.SecretIdList) > 20 {
		return nil, errorf(errInvalidParameter, "SecretIdList takes at most 20 secrets.")
	}
	if len(in.SecretIdList) == 0 {
		return nil, errorf(errInvalidParameter, "This fake answers BatchGetSecretValue by SecretIdList only.")
	}
	values := []map[string]any{}
	errs := []map[string]string{}
	for _, id := range in.SecretIdList {
		sec, err := s.live(id)
		var v *version
		if err == nil {
			v, err = sec.version("", Current)
		}
		if err != nil {
			errs = append(errs, map[string]string{"SecretId": id, "ErrorCode": err.typ, "Message": err.message})
			continue
		}
		values = append(values, sec.value(v))
	}
	return map[string]any{"SecretValues": values, "Errors": errs}, nil
}

var labelPattern = regexp.MustCompile(`^[A-Za-z0-9_+=.@-]{1,256}$`)

func (s *Server) putSecretValue(body []byte) (any, *apiError) {
	var in struct {
		SecretId           string
		ClientRequestToken string
		SecretString       *string
		SecretBinary       []byte // base64 in JSON
		VersionStages      []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	v, err := s.newVersion(in.ClientRequestToken, in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	labels := in.VersionStages
	if labels == nil {
		labels = []string{Current}
	}
	for _, l := range labels {
		if !labelPattern.MatchString(l) {
			return nil, errorf(errInvalidParameter, "Invalid staging label.")
		}
	}
	if old := sec.versions[v.id]; old != nil {
		if !sameData(old, v) {
			return nil, errorf(errExists, "You can't modify an existing version, you can only create new ones.")
		}
		v = old // the same request again: nothing changes
	} else {
		sec.put(v, labels)
		sec.lastChanged = s.now()
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": append([]string{}, v.labels...)}, nil
}

// newVersion checks a new version's token and data.
func (s *Server) newVersion(token string, str *string, bin []byte) (*version, *apiError) {
	if token == "" {
		token = newUUID()
	}
	if len(token) < 32 || len(token) > 64 {
		return nil, errorf(errInvalidParameter, "ClientRequestToken must be 32 to 64 characters long.")
	}
	if (str == nil) == (bin == nil) {
		return nil, errorf(errInvalidParameter, "You must provide either SecretString or SecretBinary, not both.")
	}
	if (str != nil && len(*str) > 65536) || len(bin) > 65536 {
		return nil, errorf(errInvalidParameter, "The secret value is larger than 65536 bytes.")
	}
	return &version{id: token, str: str, bin: bin, added: s.now()}, nil
}

func sameData(a, b *version) bool {
	if (a.str == nil) != (b.str == nil) {
		return false
	}
	if a.str != nil {
		return *a.str == *b.str
	}
	return bytes.Equal(a.bin, b.bin)
}

func (s *Server) updateSecretVersionStage(body []byte) (any, *apiError) {
	var in struct{ SecretId, VersionStage, MoveToVersionId, RemoveFromVersionId string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	if !labelPattern.MatchString(in.VersionStage) {
		return nil, errorf(errInvalidParameter, "You must specify a valid VersionStage.")
	}
	holder := sec.labelled(in.VersionStage)
	if in.RemoveFromVersionId != "" && (holder == nil || holder.id != in.RemoveFromVersionId) {
		return nil, errorf(errInvalidParameter, "The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionId)
	}
	switch {
	case in.MoveToVersionId != "":
		to := sec.versions[in.MoveToVersionId]
		if to == nil {
			return nil, errorf(errNotFound, "Secrets Manager can't find the specified secret version: %s", in.MoveToVersionId)
		}
		if holder != nil && holder != to && in.RemoveFromVersionId == "" {
			return nil, errorf(errInvalidParameter, "The staging label %s is attached to version %s: specify it as RemoveFromVersionId to move the label.", in.VersionStage, holder.id)
		}
		if holder != to {
			sec.attach(in.VersionStage, to)
			sec.lastChanged = s.now()
		}
	case in.RemoveFromVersionId != "":
		if in.VersionStage == Current {
			return nil, errorf(errInvalidParameter, "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.")
		}
		holder.labels = remove(holder.labels, in.VersionStage)
		sec.lastChanged = s.now()
	default:
		return nil, errorf(errInvalidParameter, "You must specify MoveToVersionId or RemoveFromVersionId.")
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

func (s *Server) createSecret(body []byte) (any, *apiError) {
	var in struct {
		Name               string
		ClientRequestToken string
		Description        string
		SecretString       *string
		SecretBinary       []byte
		Tags               []struct{ Key, Value string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if !namePattern.MatchString(in.Name) {
		return nil, errorf(errInvalidParameter, "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if old := s.secrets[in.Name]; old != nil {
		if !old.deleted.IsZero() {
			return nil, errorf(errInvalidRequest, "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, errorf(errExists, "The operation failed because the secret %s already exists.", in.Name)
	}
	for _, t := range in.Tags {
		if err := checkTagKey(t.Key); err != nil {
			return nil, err
		}
	}
	var v *version
	if in.SecretString != nil || in.SecretBinary != nil {
		var err *apiError
		if v, err = s.newVersion(in.ClientRequestToken, in.SecretString, in.SecretBinary); err != nil {
			return nil, err
		}
	}
	sec := s.newSecret(in.Name, s.now())
	sec.description = in.Description
	for _, t := range in.Tags {
		sec.setTag(t.Key, t.Value)
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if v != nil {
		sec.put(v, []string{Current})
		out["VersionId"] = v.id
	}
	return out, nil
}

func (s *Server) deleteSecret(body []byte) (any, *apiError) {
	var in struct {
		SecretId                   string
		ForceDeleteWithoutRecovery bool
		RecoveryWindowInDays       *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, errorf(errInvalidParameter, "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	now := s.now()
	if in.ForceDeleteWithoutRecovery {
		switch {
		case s.deleteDelay <= 0:
			delete(s.secrets, sec.name)
		case sec.purgeAt.IsZero():
			// AWS deletes it in the background: it lingers a while.
			sec.deleted, sec.purgeAt = now, now.Add(s.deleteDelay)
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(now)}, nil
	}
	if !sec.deleted.IsZero() {
		return nil, errorf(errInvalidRequest, "You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	days := 30
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, errorf(errInvalidParameter, "The recovery window must be between 7 and 30 days.")
		}
	}
	sec.deleted = now.Add(time.Duration(days) * 24 * time.Hour)
	sec.lastChanged = now
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(sec.deleted)}, nil
}

func (s *Server) restoreSecret(body []byte) (any, *apiError) {
	var in struct{ SecretId string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	sec.deleted = time.Time{}
	sec.lastChanged = s.now()
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

func checkTagKey(key string) *apiError {
	if key == "" || len(key) > 128 {
		return errorf(errInvalidParameter, "A tag key is 1 to 128 characters long.")
	}
	if strings.HasPrefix(strings.ToLower(key), "aws:") {
		return errorf(errInvalidParameter, "Tag keys that start with aws: are reserved.")
	}
	return nil
}

var tagValuePattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$`)

func (s *Server) tagResource(body []byte) (any, *apiError) {
	var in struct {
		SecretId string
		Tags     []struct{ Key, Value string }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		if err := checkTagKey(t.Key); err != nil {
			return nil, err
		}
		if !tagValuePattern.MatchString(t.Value) {
			return nil, errorf(errInvalidParameter, "Tag values are up to 256 letters, digits, spaces and _.:/=+-@.")
		}
	}
	keys := map[string]bool{}
	for _, t := range sec.tagList() {
		keys[t["Key"]] = true
	}
	for _, t := range in.Tags {
		keys[t.Key] = true
	}
	if len(keys) > 50 {
		return nil, errorf(errInvalidParameter, "A secret has at most 50 tags.")
	}
	for _, t := range in.Tags {
		sec.setTag(t.Key, t.Value)
	}
	sec.lastChanged = s.now()
	return map[string]any{}, nil
}

func (s *Server) untagResource(body []byte) (any, *apiError) {
	var in struct {
		SecretId string
		TagKeys  []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	out := sec.tags[:0]
	for _, t := range sec.tags {
		if !contains(in.TagKeys, t.key) {
			out = append(out, t)
		}
	}
	if len(out) != len(sec.tags) {
		// A key that is not attached is no error and changes nothing.
		sec.lastChanged = s.now()
	}
	sec.tags = out
	return map[string]any{}, nil
}
