package standby

import (
	"os"

	"github.com/logship/logship/pg"
)

func pgLSN(v uint64) pg.LSN { return pg.LSN(v) }

func writeFile(name, text string) error { return os.WriteFile(name, []byte(text), 0o600) }
