package sensitive

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestValueNeverPrints(t *testing.T) {
	const canary = "canary-7f3a9c"
	v := New(canary)
	wrapped := struct {
		Name  string
		Value Value
	}{"db", v}

	outputs := map[string]string{
		"%s":     fmt.Sprintf("%s", v),
		"%v":     fmt.Sprintf("%v", v),
		"%+v":    fmt.Sprintf("%+v", wrapped),
		"%#v":    fmt.Sprintf("%#v", wrapped),
		"%q":     fmt.Sprintf("%q", v),
		"%x":     fmt.Sprintf("%x", v),
		"err":    fmt.Errorf("wrapped: %v", v).Error(),
		"Sprint": fmt.Sprint(v, wrapped),
	}
	b, err := json.Marshal(wrapped)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(b)

	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, canary) {
				t.Fatalf("value leaked: %s", out)
			}
			if !strings.Contains(out, Redacted) {
				t.Fatalf("no redaction marker in %q", out)
			}
		})
	}
	if v.Reveal() != canary {
		t.Fatalf("Reveal() lost the value")
	}
}

func TestFingerprint(t *testing.T) {
	p := NewFingerprinter()
	a, b := New("one"), New("two")
	if !p.Of(a).Equal(p.Of(New("one"))) {
		t.Error("same value, different fingerprints")
	}
	if p.Of(a).Equal(p.Of(b)) {
		t.Error("different values, same fingerprint")
	}
	if NewFingerprinter().Of(a).Equal(p.Of(a)) {
		t.Error("fingerprints under different keys agree")
	}
	if !a.Equal(New("one")) || a.Equal(b) {
		t.Error("Equal is wrong")
	}
}

func TestStructuredValues(t *testing.T) {
	v := FromFields(map[string]Value{"username": New("app_b"), "password": New("canary-pw-91c2")})
	fields, err := v.Fields()
	if err != nil || len(fields) != 2 || fields["username"].Reveal() != "app_b" {
		t.Fatalf("Fields() = %v (%d fields), %v", fields, len(fields), err)
	}
	if f, err := v.Field("password"); err != nil || f.Reveal() != "canary-pw-91c2" {
		t.Errorf("Field(password): %v", err)
	}
	_, err = v.Field("token")
	if err == nil || !strings.Contains(err.Error(), `no field "token"`) {
		t.Errorf("Field(token): err = %v", err)
	}
	for _, bad := range []string{"canary-plain-7e1", `["canary-array-7e1"]`, `{"n": 1}`, `{"canary-key-7e1": null}`} {
		_, err := New(bad).Fields()
		if !errors.Is(err, ErrNotStructured) {
			t.Errorf("Fields() of a value that is not an object of strings: err = %v", err)
		}
		if err != nil && strings.Contains(err.Error(), "7e1") {
			t.Errorf("the error quotes the value: %v", err)
		}
	}
}
