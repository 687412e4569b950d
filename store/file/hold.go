package file

import (
	"os"
)

// holdInPut, when set (by crash tests, through the environment), names a
// file that Put creates once half of an object is written; Put then blocks
// so that the test can kill the process at that exact point.
var holdInPut = os.Getenv("LOGSHIP_TEST_HOLD_IN_PUT")

func hold() { // never returns
	_ = os.WriteFile(holdInPut, nil, 0o644)
	select {}
}
