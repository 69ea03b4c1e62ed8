package media

// SIPInfo is implemented by SIP legs: what call records carry about their dialog.
type SIPInfo interface {
	// SIPCallID is the dialog's Call-ID ("" before the INVITE).
	SIPCallID() string
	// SIPStatus is the final SIP status of the INVITE (200 when answered; 0 while pending).
	SIPStatus() int
}
