package drift_test

import (
	"fmt"
	"time"

	"github.com/edged-dev/edged/agent/drift"
)

func Example() {
	// Off the device: profile the reference data (one feature, values
	// 0..999 spread evenly) and ship the JSON with the model.
	pr, err := drift.NewProfiler([]drift.FeatureSpec{{Name: "temperature"}}, nil, nil)
	if err != nil {
		panic(err)
	}
	for i := range 1000 {
		_ = pr.Add([]float64{float64(i)}, drift.NoClass)
	}
	p, _ := pr.Profile()
	data, _ := p.Marshal()

	// On the device: load it and feed every inference's features.
	ref, err := drift.Unmarshal(data)
	if err != nil {
		panic(err)
	}
	d, err := drift.NewDetector("thermo", ref, &drift.Config{MaxSamples: 500})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 1500 {
		v := float64(i * 7 % 1000) // like the reference
		if i >= 500 {
			v = 300 + float64(i*7%1000) // shifted up
		}
		res, err := d.Add(t0.Add(time.Duration(i)*time.Second), []float64{v}, drift.NoClass)
		if err != nil {
			panic(err)
		}
		if r := res.Report; r != nil {
			fmt.Printf("window of %d: state %s, worst %s %s\n", r.N, r.State, r.Worst.Stat, r.Worst.Feature)
		}
		if c := res.Change; c != nil {
			fmt.Printf("event: %s → %s\n", c.From, c.To)
		}
	}
	// Output:
	// window of 500: state ok, worst ks_p temperature
	// window of 500: state drift, worst psi temperature
	// event: ok → drift
	// window of 500: state drift, worst psi temperature
}
