package mediatest

import (
	"slices"

	"github.com/cti-adapter/cti-adapter/adapter/media"
)

var _ media.SelectiveMixer = (*Mixer)(nil)

// OutputExcept returns the mix without the inputs of except (and the listener's own).
func (m *Mixer) OutputExcept(except ...media.Leg) media.Source {
	var skip []*Leg
	for _, l := range except {
		if ml, err := m.leg(l); err == nil {
			skip = append(skip, ml)
		}
	}
	return mixOut{m: m, except: &skip}
}

// skips reports whether the output leaves in out.
func (o mixOut) skips(in *Leg) bool { return o.except != nil && slices.Contains(*o.except, in) }
