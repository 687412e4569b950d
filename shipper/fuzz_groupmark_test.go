package shipper_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/logship/logship/shipper"
)

// FuzzGroupMarkJSON reads arbitrary group mark records (what MarkGroup
// stores at GroupKey): one that unmarshals marshals again to JSON that
// reads back to the same bytes, so a record copied or rewritten does not
// drift.
func FuzzGroupMarkJSON(f *testing.F) {
	f.Add([]byte(`{"group":"billing","name":"m1","time":"2026-11-27T04:33:00.123456789Z","skew_ns":1500000,` +
		`"members":[{"name":"m1","lsn":"0/3000090","timeline":1,"time":"2026-11-27T04:33:00.123456789Z","source":"orders"}]}`))
	f.Add([]byte(`{"group":"g","members":null,"skew_ns":-9223372036854775808}`))
	f.Add([]byte(`{"time":"2026-11-27T04:33:00+14:00","members":[{"timeline":4294967295,"lsn":"\ud800"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var gm shipper.GroupMark
		if json.Unmarshal(doc, &gm) != nil {
			return
		}
		b1, err := json.MarshalIndent(gm, "", "  ")
		if err != nil {
			t.Fatalf("%s unmarshalled to %+v, which does not marshal: %v", doc, gm, err)
		}
		var again shipper.GroupMark
		if err := json.Unmarshal(b1, &again); err != nil {
			t.Fatalf("marshalled %s does not unmarshal: %v", b1, err)
		}
		b2, err := json.MarshalIndent(again, "", "  ")
		if err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("marshalled %s, then %s (%v)", b1, b2, err)
		}
	})
}
