package agent

import (
	"errors"
	"log/slog"
	"os"

	"github.com/edged-dev/edged/boards"
)

// detectBoard identifies the host. Detection never stops the agent: a
// file it cannot parse is logged and the rest of the board still counts.
func detectBoard(log *slog.Logger) boards.Board {
	b, err := boards.Detect(os.DirFS("/"))
	switch {
	case errors.Is(err, boards.ErrNoData):
		log.Warn("board: nothing to detect from", "err", err)
	case err != nil:
		log.Warn("board: partial detection", "board", b.Name, "err", err)
	}
	log.Info("board", "summary", b.Summary(), "default_threads", b.DefaultThreads())
	return b
}
