package media

// This file extends the port for supervision (docs/supervision.md): a mixer whose outputs need
// not hear every input. A supervisor who listens is an output of the call's mixer but not an
// input (heard by none); a supervisor who whispers is an input that the customer's output skips
// (heard by the agents only).

// SelectiveMixer is a Mixer whose outputs can leave out chosen inputs besides their own.
type SelectiveMixer interface {
	Mixer
	// OutputExcept returns a new source for one leg: the mix minus that leg's own input and
	// minus the inputs of the legs in except (legs that are not inputs change nothing).
	OutputExcept(except ...Leg) Source
}
