package store_test

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/edged-dev/edged/ota/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(dir)
	s, err := store.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// At every agent start: count the start, undo a model that crashes.
	s.RecordStart()
	if rolled, _ := s.CheckCrashLoop(); len(rolled) > 0 {
		log.Printf("rolled back after a crash loop: %+v", rolled)
	}

	// A verified download: stage it, promote it, and once it has served
	// a smoke inference, mark it good.
	for v := uint64(1); v <= 2; v++ {
		if err := s.Stage("mnet", v, []store.File{{Name: "cpu.tflite", Data: strings.NewReader("model bytes")}}); err != nil {
			log.Fatal(err)
		}
		if _, err := s.Promote("mnet"); err != nil {
			log.Fatal(err)
		}
	}
	m, _, _ := s.Model("mnet")
	fmt.Printf("active %d, previous %d, good %v\n", m.Active, m.Previous, m.Good)

	// The new version fails its smoke inference: back to the previous.
	m, _ = s.Rollback("mnet")
	fmt.Printf("active %d, previous %d, last version %d\n", m.Active, m.Previous, m.LastVersion)
	// Output:
	// active 2, previous 1, good false
	// active 1, previous 0, last version 2
}
