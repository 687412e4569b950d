package catalog

import (
	"errors"
	"time"

	"github.com/logship/logship/store"
)

// RetainedObject is a key purge deleted whose versions an Object Lock
// retention keeps until Until: the key is gone from every listing; a
// lifecycle rule for noncurrent versions frees the storage after that date.
type RetainedObject struct {
	Key   string    `json:"key"`
	Until time.Time `json:"until"`
}

// retained records a delete that removed the key but left versions under
// retention, and says whether err was that.
func (r *PurgeResult) retained(err error) bool {
	var re *store.RetainedError
	if !errors.As(err, &re) {
		return false
	}
	r.Retained = append(r.Retained, RetainedObject{Key: re.Key, Until: re.Until})
	return true
}
