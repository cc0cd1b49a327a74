package main

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

var (
	colorBlue = color.RGBA{R: 66, G: 133, B: 244, A: 255}
	colorRed  = color.RGBA{R: 234, G: 67, B: 53, A: 255}
)

// chart draws CPU µs per request of each target, playlist and segment side by side.
func (r report) chart(path string) error {
	var targets []string
	for _, row := range r.Rows {
		if row.Path == paths[0].name {
			targets = append(targets, row.Target)
		}
	}
	p := plot.New()
	p.Title.Text = "CPU time of the proxy per request (median; lower is better)"
	p.Y.Label.Text = "CPU µs per request"
	w := vg.Points(18)
	p.Add(plotter.NewGrid())
	top := 0.0
	colors := []color.Color{colorBlue, colorRed}
	for i, pth := range paths {
		vals := make(plotter.Values, len(targets))
		for j, t := range targets {
			for _, row := range r.Rows {
				if row.Target == t && row.Path == pth.name {
					vals[j] = row.CPUUS.Median
					top = max(top, vals[j])
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = colors[i%len(colors)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-0.5) * w
		p.Add(bars)
		p.Legend.Add(pth.name+" ("+map[string]string{"playlist": "2 KiB", "segment": "256 KiB"}[pth.name]+")", bars)
	}
	// Headroom above the tallest bar keeps the legend off the bars.
	p.Y.Min, p.Y.Max = 0, top*1.3
	p.Legend.Top = true
	p.NominalX(targets...)
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}
