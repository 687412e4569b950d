package shipper

import "os"

// Crash tests (through the environment) stop a mark at a chosen point:
// LOGSHIP_TEST_HOLD_IN_MARK names a file the mark creates there before it
// blocks, so that the test can kill it at exactly that point;
// LOGSHIP_TEST_HOLD_IN_MARK_AT says where: "reserved" (the default: the
// name is reserved, no restore point made) or "made" (the restore point
// exists, nothing is recorded).
var (
	holdInMark   = os.Getenv("LOGSHIP_TEST_HOLD_IN_MARK")
	holdInMarkAt = os.Getenv("LOGSHIP_TEST_HOLD_IN_MARK_AT")
)

func holdMark(at string) {
	if holdInMark == "" {
		return
	}
	if holdInMarkAt != at && (holdInMarkAt != "" || at != "reserved") {
		return
	}
	_ = os.WriteFile(holdInMark, nil, 0o644)
	select {} // never returns: the test kills the process
}
