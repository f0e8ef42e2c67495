package fleet_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/edged-dev/edged/fleet"
)

func ExampleParseTopic() {
	t, err := fleet.ParseTopic("edged/v1/group/north/cmd/deploy/c-42")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Kind, t.Group, t.Op, t.CmdID)
	fmt.Println(fleet.StatusTopic("pi-7", t.Op, t.CmdID))
	_, err = fleet.ParseTopic("edged/v1/dev/+/state")
	fmt.Println(err)
	// Output:
	// group command north deploy c-42
	// edged/v1/dev/pi-7/cmd/deploy/c-42/status
	// topic "edged/v1/dev/+/state": not an edged/v1 topic: device id: id "+" contains '+'
}

// A device's client: birth and will on its state topic, commands for it
// and its group handed to OnCommand, statuses written back.
func ExampleClient() {
	var c *fleet.Client
	c, err := fleet.New(fleet.Options{
		Broker:   "mqtts://broker.example.com:8883",
		DeviceID: "pi-7",
		Groups:   []string{"north"},
		CAFile:   "/etc/edged/ca.pem",
		Birth: func() fleet.State {
			return fleet.State{Version: "0.4.0", Board: "Raspberry Pi 4", Models: []fleet.ModelState{{Name: "kws", Active: "3"}}}
		},
		OnCommand: func(ctx context.Context, from fleet.Topic, cmd fleet.Command) {
			if cmd.Expired(time.Now()) {
				c.WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: fleet.StatusExpired})
				return
			}
			c.WriteStatus(ctx, cmd.Op, fleet.CommandStatus{ID: cmd.ID, State: fleet.StatusDone})
		},
		Log: slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Run(ctx) // until ctx ends
}
