package fly

import (
	"context"
	"testing"
	"time"

	fakefly "github.com/rotplan/rotplan/internal/fakes/fly"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// TestFlyFakeOpaqueDigestsRecorded: current Fly lists digests no client can
// compute (the fake's default). A write returns a record of the digest Fly
// answered; with it, a key that still holds the value observes as current,
// a hand edit as other, and a deliver of what is in place is skipped
// without a secrets update or a restart. Without a record the key is
// unknown, as before.
func TestFlyFakeOpaqueDigestsRecorded(t *testing.T) {
	ctx := context.Background()
	srv := fakefly.New(t)
	srv.Seed("api", map[string]string{jwtKey: "v0"})
	machine := srv.AddMachine("api", fakefly.MachineSpec{})
	tgt := newTarget(t, srv, nil)
	cfg := block("api", jwtKey, "")

	resp, err := tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{writeItem("jwt", cfg, "v1", "v0")}})
	if err != nil || resp.Results[0].Err != nil {
		t.Fatalf("deliver: %v %v", err, resp.Results[0].Err)
	}
	record := resp.Results[0].Record
	if record == "" {
		t.Fatal("deliver returned no record of Fly's digest")
	}
	if want := srv.Calls("api").MachineUpdates; want != 1 {
		t.Fatalf("machine updates = %d, want 1", want)
	}

	observe := func(current, recorded string) string {
		t.Helper()
		item := observeItem("jwt", cfg, current)
		item.Recorded = recorded
		resp, err := tgt.Observe(ctx, providers.ObserveRequest{Items: []providers.ObserveItem{item}})
		if err != nil || resp.Results[0].Err != nil {
			t.Fatalf("observe: %v", err)
		}
		return resp.Results[0].Holds.String()
	}
	if got := observe("v1", record); got != "current" {
		t.Errorf("after the deliver, with its record: holds %s, want current", got)
	}
	if got := observe("v1", ""); got != "unknown" {
		t.Errorf("without a record: holds %s, want unknown (the digest is opaque)", got)
	}
	if got := observe("v2", record); got != "other" {
		t.Errorf("the store moved on to another value: holds %s, want other", got)
	}

	// A sync of what is in place: nothing is written, nothing restarts.
	resp, err = tgt.Deliver(ctx, providers.DeliverRequest{Items: []providers.WriteItem{{Secret: "jwt", Target: "target.fly.api", Config: cfg, Value: sensitive.New("v1"), Recorded: record}}})
	if err != nil || resp.Results[0].Err != nil || !resp.Results[0].Skipped {
		t.Fatalf("deliver in place: %v %+v, want skipped", err, resp.Results[0])
	}
	if resp.Results[0].Record != record {
		t.Error("a skipped deliver changed the record")
	}
	if c := srv.Calls("api"); c.Writes != 1 || c.MachineUpdates != 1 {
		t.Errorf("calls %+v: a deliver of what is in place wrote or restarted", c)
	}
	if m, _ := srv.Machine("api", machine); m.Updates != 1 {
		t.Errorf("the Machine was updated %d times, want 1", m.Updates)
	}

	// Someone edits the secret by hand: drift.
	srv.Seed("api", map[string]string{jwtKey: "edited by hand"})
	if got := observe("v1", record); got != "other" {
		t.Errorf("after a hand edit: holds %s, want other", got)
	}
}

// TestFlyFakeWaitNamesVersion: fly-go's Wait names the instance it waits
// for as version= (flaps_machines_wait.go); rotplan sends it.
func TestFlyFakeWaitNamesVersion(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	srv.AddMachine("api", fakefly.MachineSpec{SlowStart: 1})
	resp, err := newTarget(t, srv, nil).Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{writeItem("jwt", block("api", jwtKey, ""), "v1", "")}})
	if err != nil || resp.Results[0].Err != nil {
		t.Fatalf("deliver: %v %v", err, resp.Results[0].Err)
	}
	if c := srv.Calls("api"); c.Waits != 2 || c.WaitVersions != c.Waits {
		t.Errorf("calls %+v: every wait should name the instance as version", c)
	}
}

// TestFlyFakeLeaseRefreshedWhileStarting: a Machine slow to start keeps
// rotplan waiting for minutes (each wait that times out is 20 s of the
// fake's clock). rotplan holds a short lease and refreshes it, so the
// deploy queued behind it never gets the Machine; a lease taken once for
// the whole wait would lapse and let it in.
func TestFlyFakeLeaseRefreshedWhileStarting(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	id := srv.AddMachine("api", fakefly.MachineSpec{SlowStart: 20})
	srv.Contend("api", id)
	tgt := newTarget(t, srv, nil)
	tgt.now = srv.Now
	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{writeItem("jwt", block("api", jwtKey, ""), "v1", "")}})
	if err != nil || resp.Results[0].Err != nil {
		t.Fatalf("deliver: %v %v", err, resp.Results[0].Err)
	}
	m, _ := srv.Machine("api", id)
	if m.Updates != 1 {
		t.Errorf("the Machine was updated %d times, want once (by rotplan)", m.Updates)
	}
	if m.LeaseTTL > time.Minute {
		t.Errorf("lease ttl %s: a crashed apply would hold the Machine that long", m.LeaseTTL)
	}
	if c := srv.Calls("api"); c.Refreshes == 0 {
		t.Errorf("calls %+v: the lease was never refreshed", c)
	}
	runs(t, srv, "api", id, map[string]string{jwtKey: "v1"})
}

// TestFlyFakeDeployGoesOnAfterHeldLease: another deploy holds the second
// Machine for a while. The deploy goes round again after backing off, and
// does not restart the first Machine twice: its config and secrets version
// are what rotplan's update left them at.
func TestFlyFakeDeployGoesOnAfterHeldLease(t *testing.T) {
	srv := fakefly.New(t)
	srv.Seed("api", nil)
	first := srv.AddMachine("api", fakefly.MachineSpec{})
	second := srv.AddMachine("api", fakefly.MachineSpec{})
	srv.HoldLeaseFor("api", second, 30*time.Second)
	tgt := newTarget(t, srv, nil)
	tgt.now = srv.Now
	tgt.client.policy.Sleep = func(context.Context, time.Duration) error {
		srv.Advance(time.Minute)
		return nil
	}
	resp, err := tgt.Deliver(context.Background(), providers.DeliverRequest{Items: []providers.WriteItem{writeItem("jwt", block("api", jwtKey, ""), "v1", "")}})
	if err != nil || resp.Results[0].Err != nil {
		t.Fatalf("deliver: %v %v", err, resp.Results[0].Err)
	}
	for _, id := range []string{first, second} {
		if m, _ := srv.Machine("api", id); m.Updates != 1 {
			t.Errorf("machine %s was updated %d times, want once", id, m.Updates)
		}
		runs(t, srv, "api", id, map[string]string{jwtKey: "v1"})
	}
}
