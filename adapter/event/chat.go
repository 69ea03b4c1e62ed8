package event

// Chat events (PROTOCOLS §7, docs/chat.md). The store keeps the chats and chat_messages tables
// as a projection of these events, written in the same transaction (store/chats.go): a field
// renamed here must be renamed there.
const (
	ChatStarted     = "chat_started"      // queued (no user_id), then once per offer to an agent (user_id)
	ChatOfferFailed = "chat_offer_failed" // an offer ended without acceptance (declined, no answer, ...)
	ChatAccepted    = "chat_accepted"     // an agent took the chat
	ChatMessage     = "chat_message"      // a message of the customer, the agent or the system
	ChatEnded       = "chat_ended"        // the conversation ended; the agent's after-chat work begins
	ChatCompleted   = "chat_completed"    // the agent's after-chat work ended: the chat's slot is free
)

// ChatEvents lists the chat events in a stable order.
var ChatEvents = []string{ChatStarted, ChatOfferFailed, ChatAccepted, ChatMessage, ChatEnded, ChatCompleted}

// ChatStartedData is chat_started.
type ChatStartedData struct {
	ChatID      string `json:"chat_id"`
	CreatedAt   string `json:"created_at"`
	DisplayName string `json:"display_name"`
	Phone       string `json:"phone,omitempty"`
	Queue       string `json:"queue"`
	UserID      string `json:"user_id,omitempty"`
}

// ChatOfferFailedData is chat_offer_failed; reason is declined, no_answer, chat_ended or
// agent_logged_out.
type ChatOfferFailedData struct {
	ChatID string `json:"chat_id"`
	Reason string `json:"reason"`
	UserID string `json:"user_id"`
}

// ChatAcceptedData is chat_accepted.
type ChatAcceptedData struct {
	ChatID      string `json:"chat_id"`
	DisplayName string `json:"display_name"`
	UserID      string `json:"user_id"`
}

// ChatMessageData is chat_message. MsgSeq numbers the chat's messages from 1 (delivery
// acknowledgements name it); ClientMsgID is the sender's own id of the message, echoed.
type ChatMessageData struct {
	ChatID      string `json:"chat_id"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
	From        string `json:"from"`
	MsgSeq      int    `json:"msg_seq"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	UserID      string `json:"user_id,omitempty"`
}

// ChatEndedData is chat_ended; ended_by is customer, agent or system.
type ChatEndedData struct {
	ChatID        string `json:"chat_id"`
	EndedBy       string `json:"ended_by"`
	Reason        string `json:"reason"`
	UserID        string `json:"user_id,omitempty"`
	WrapUpSeconds int    `json:"wrap_up_seconds"`
}

// ChatCompletedData is chat_completed.
type ChatCompletedData struct {
	ChatID string `json:"chat_id"`
	UserID string `json:"user_id"`
}
