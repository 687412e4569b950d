package catalog

import "github.com/logship/logship/store/file"

// LocalRoot is the folder a file:// store keeps its objects in, so that a
// restore can refuse to write into (or clear) the store itself. Other
// stores have no folder on this machine: ok is false. The store stays
// behind the catalog.
func (c *Catalog) LocalRoot() (root string, ok bool) {
	if fs, isFile := c.st.(*file.Store); isFile {
		return fs.Root, true
	}
	return "", false
}
