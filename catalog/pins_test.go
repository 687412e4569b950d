package catalog_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/logship/logship/catalog"
)

func TestPinsKeepMarksAndBackups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := fourBackups(t)
	for _, name := range []string{"m1", "b2", "m1"} { // pinning twice is fine
		p, err := ps.cat.ResolvePin(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.cat.Keep(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ps.cat.ResolvePin(ctx, "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("resolve of an unknown name: %v", err)
	}
	pins, err := ps.cat.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []catalog.Pin{{Kind: "backup", Name: "b2"}, {Kind: "mark", Name: "m1"}}
	if !reflect.DeepEqual(pins, want) {
		t.Fatalf("pins %v, want %v", pins, want)
	}
	plan, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 1}, ps.at(14))
	if err != nil {
		t.Fatal(err)
	}
	// m1 needs b1; b2 is pinned; b3 goes; the cutoff stays at b1's start.
	if got, want := backupActions(plan), map[string]string{"b1": "keep", "b2": "keep", "b3": "delete", "b4": "keep"}; !reflect.DeepEqual(got, want) {
		t.Errorf("backups %v, want %v", got, want)
	}
	if got := markActions(plan); got["m1"] != "keep" {
		t.Errorf("pinned mark m1: %v", got)
	}
	if _, err := ps.cat.Purge(ctx, plan); err != nil {
		t.Fatal(err)
	}
	if err := ps.whole(); err != nil {
		t.Fatal(err)
	}
	if err := ps.cat.Unkeep(ctx, catalog.Pin{Kind: "mark", Name: "m1"}); err != nil {
		t.Fatal(err)
	}
	if err := ps.cat.Unkeep(ctx, catalog.Pin{Kind: "backup", Name: "b2"}); err != nil {
		t.Fatal(err)
	}
	plan, err = ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 1}, ps.at(14))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := backupActions(plan), map[string]string{"b1": "delete", "b2": "delete", "b4": "keep"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after unkeep: backups %v, want %v", got, want)
	}
	if len(ps.cat.StrayKeys()) != 0 {
		t.Errorf("stray keys: %v", ps.cat.StrayKeys())
	}
}
