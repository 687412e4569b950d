// Package layers holds only a test: the one that keeps the package
// dependencies pointing one way (cmd → shipper, restore → catalog → store;
// pg and object are leaves), as DESIGN.md draws them.
package layers
