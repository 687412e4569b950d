package catalog

// Tests outside the package damage objects on purpose, so they need keys.

func (c *Catalog) WALKey(name string) string        { return c.walKey(name) }
func (c *Catalog) BackupPrefix(id string) string    { return c.backupPrefix(id) }
func (c *Catalog) MarkObjectKey(name string) string { return c.markObjectKey(name) }
func (c *Catalog) PieceObjectKey(p WALPiece) string { return c.pieceObjectKey(p) }
func (c *Catalog) PieceRecordKey(p WALPiece) string { return c.pieceRecordKey(p) }
