package s3

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// sdkLogger hands the AWS SDK's own messages (a retry it gave up, a
// response it could not check) to the program's slog logger, so that they
// come out in its format (--log-format json) rather than as the SDK's
// plain "SDK <time> WARN" lines on stderr.
type sdkLogger struct{ log *slog.Logger }

func (s sdkLogger) Logf(class logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	switch class {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}
