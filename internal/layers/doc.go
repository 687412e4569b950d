// Package layers holds only tests: the one that keeps the package
// dependencies pointing one way (cmd → shipper, restore → catalog → store;
// pg and object are leaves), as DESIGN.md draws them, and the one that keeps
// the store behind the catalog (only catalog talks to it; cmd opens it and
// reads its error values).
package layers
