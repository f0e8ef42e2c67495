package boards

import (
	"io/fs"
	"slices"
	"strings"
)

// detectCoral claims the Coral Dev Board (NXP i.MX 8M Quad, board codename
// Phanbell, Edge TPU on PCIe) and the Dev Board Mini (MediaTek MT8167S,
// Edge TPU on USB). The Edge TPU itself is found by the generic USB / apex
// scan, so a board whose TPU failed to enumerate shows none.
func detectCoral(_ fs.FS, h *hostInfo, b *Board) (bool, error) {
	switch {
	case slices.Contains(h.compatible, "fsl,imx8mq-phanbell") || strings.Contains(h.model, "Phanbell"):
		b.Name = "coral-dev-board"
	case strings.Contains(h.model, "Coral") &&
		(slices.Contains(h.compatible, "mediatek,mt8167") || strings.Contains(h.model, "MT8167")):
		b.Name = "coral-dev-board-mini"
	default:
		return false, nil
	}
	return true, nil
}
