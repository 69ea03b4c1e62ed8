package api

// The response shapes of the OpenAPI document (openapi.go assembles it).

// responseSchemas adds the response shapes the handlers encode (see handlers.go, calls.go).
func (b *openAPIBuilder) responseSchemas() {
	ts := b.schemaRef("common", "timestamp")
	str := obj{"type": "string"}
	b.schemas["Problem"] = obj{
		"description": "RFC 9457 problem details with the protocol's error code.",
		"type":        "object",
		"required":    []string{"type", "title", "status", "code"},
		"properties": obj{
			"type":     obj{"type": "string", "format": "uri", "description": ProblemBase + "<code>"},
			"title":    str,
			"status":   obj{"type": "integer", "description": "The HTTP status."},
			"detail":   obj{"type": "string", "description": "Human-readable explanation."},
			"instance": obj{"type": "string", "description": "The request path."},
			"code": obj{"type": "string", "enum": []string{"invalid_json", "invalid_message", "unauthorized", "forbidden",
				"not_found", "conflict", "payload_too_large", "unsupported_media", "rate_limited", "resync_required", "internal", "range_not_satisfiable", "unavailable"}},
			"errors": obj{"type": "array", "items": ref("FieldError"), "maxItems": 20,
				"description": "For invalid_message: one entry per invalid field, the first 20 (paths at most 256 bytes)."},
			"errors_omitted": obj{"type": "integer", "minimum": 1, "description": "Present when more than 20 fields were invalid: how many errors lists leave out."},
			"oldest_seq":     obj{"type": "integer", "minimum": 1, "description": "For resync_required: the oldest retained seq."},
		},
	}
	b.schemas["FieldError"] = obj{
		"type":     "object",
		"required": []string{"field", "message"},
		"properties": obj{
			"field":   obj{"type": "string", "description": `Dotted path into the body ("queues.1", "variables.customer_id"), "(root)" for the body itself, or the parameter name.`},
			"message": obj{"type": "string"},
		},
	}
	b.schemas["ValidationProblem"] = obj{"allOf": []any{ref("Problem"), obj{"required": []string{"errors"}}}}
	b.schemas["ResyncProblem"] = obj{"allOf": []any{ref("Problem"), obj{"required": []string{"oldest_seq"}}}}

	b.schemas["User"] = obj{
		"type":     "object",
		"required": []string{"user_id", "name", "queues", "created_at", "updated_at"},
		"properties": obj{
			"user_id":    b.schemaRef("common", "user_id"),
			"name":       str,
			"extension":  obj{"type": "string", "description": "Absent when the agent has none."},
			"queues":     obj{"type": "array", "items": b.schemaRef("common", "queue")},
			"created_at": ts,
			"updated_at": ts,
		},
	}
	b.schemas["UserList"] = obj{
		"type": "object", "required": []string{"users"},
		"properties": obj{"users": obj{"type": "array", "items": ref("User")}},
	}
	b.schemas["MintedToken"] = obj{
		"type":     "object",
		"required": []string{"token", "token_id", "ws_url", "expires_at"},
		"properties": obj{
			"token":    obj{"type": "string", "description": "The signed JWT."},
			"token_id": obj{"type": "string", "description": "Its jti, for DELETE /tokens/{token_id}."},
			"ws_url": obj{"type": "string", "pattern": "^wss?://",
				"description": "The account's CTI WebSocket URL for this token: /{account}-{md5hex(token_id)}?access_token=<token> (docs/protocols.md)."},
			"expires_at": ts,
		},
	}

	leg := obj{
		"type":     "object",
		"required": []string{"leg_id", "kind", "media", "state", "started_at", "answered_at", "ended_at"},
		"properties": obj{
			"leg_id":      str,
			"kind":        obj{"type": "string", "description": "customer, agent, ivr, queue or external."},
			"user_id":     b.schemaRef("common", "user_id"),
			"peer":        str,
			"media":       obj{"type": "array", "items": str},
			"state":       obj{"type": "string", "description": "new, ringing, connected, held or ended."},
			"started_at":  ts,
			"answered_at": nullable(ts),
			"ended_at":    nullable(ts),
			"sip_call_id": obj{"type": "string", "description": "SIP legs: the dialog's Call-ID."},
			"sip_status":  obj{"type": "integer", "description": "SIP legs: the final SIP status code (200 when answered)."},
			"media_history": obj{"type": "array", "description": "Video calls: from each entry's time on, the leg's party sent its camera (video), its screen, or neither (docs/video.md).",
				"items": obj{"type": "object", "required": []string{"at", "video", "screen"},
					"properties": obj{"at": ts, "video": obj{"type": "boolean"}, "screen": obj{"type": "boolean"}}}},
		},
	}
	party := obj{
		"type":     "object",
		"required": []string{"role", "joined_at", "left_at"},
		"properties": obj{
			"user_id":   b.schemaRef("common", "user_id"),
			"phone":     str,
			"role":      obj{"type": "string", "description": "caller, agent, transfer or conference."},
			"joined_at": ts,
			"left_at":   nullable(ts),
		},
	}
	b.schemas["CallLeg"] = leg
	b.schemas["CallParty"] = party
	b.schemas["Call"] = obj{
		"description": "A call record (CDR). Optional string fields are absent when empty.",
		"type":        "object",
		"required": []string{"call_id", "direction", "source", "phone", "state", "media", "variables", "legs", "parties",
			"created_at", "answered_at", "ended_at", "duration_ms"},
		"properties": obj{
			"call_id":      b.schemaRef("common", "call_id"),
			"disposition":  obj{"type": "object", "description": "Present once an agent gave the call a disposition (POST /calls/{call_id}/disposition): code, label, notes, user_id, at."},
			"direction":    obj{"type": "string", "description": "inbound, outbound or internal."},
			"source":       obj{"type": "string", "description": "webrtc, sip or internal."},
			"phone":        obj{"type": "string", "description": "The other party: caller or dialled number."},
			"display_name": str,
			"queue":        str,
			"user_id":      obj{"type": "string", "description": "The current or last agent."},
			"state":        obj{"type": "string", "description": "new, ivr, queued, dialing, ringing, connected, held or ended."},
			"media":        obj{"type": "array", "items": str},
			"variables":    b.schemaRef("common", "variables"),
			"legs":         obj{"type": "array", "items": ref("CallLeg")},
			"parties":      obj{"type": "array", "items": ref("CallParty")},
			"created_at":   ts,
			"answered_at":  nullable(ts),
			"ended_at":     nullable(ts),
			"duration_ms": obj{"type": []string{"integer", "null"}, "minimum": 0,
				"description": "Talk time from answer to end; null until the call was answered and ended."},
			"end_reason": str,
			"ended_by":   obj{"type": "string", "description": "agent, remote or system."},
			"fail_code":  obj{"type": "integer", "description": "SIP-style status of a failed call (404, 480, 486, 487, 603)."},
			"consult_of": obj{"type": "string", "description": "A consult call (docs/consult.md): the call_id of its primary call."},
			"consult_calls": obj{"type": "array", "items": str,
				"description": "A primary call: the call_ids of its consult calls, oldest first."},
			"recordings": obj{"type": "array", "description": "GET /calls/{call_id} only: the call's recordings (docs/recording.md).",
				"items": obj{"type": "object", "required": []string{"recording_id", "call_id", "state", "started_at", "ended_at", "duration_ms", "bytes"},
					"properties": obj{"recording_id": str, "call_id": str, "state": obj{"enum": []string{"recording", "complete", "interrupted"}},
						"started_at": ts, "ended_at": nullable(ts), "duration_ms": obj{"type": "integer"}, "bytes": obj{"type": "integer"},
						"paused_ms": obj{"type": "integer"}, "dropped_frames": obj{"type": "integer"}}}},
		},
	}
	b.schemas["CallPage"] = obj{
		"type":     "object",
		"required": []string{"calls", "next_cursor"},
		"properties": obj{
			"calls":       obj{"type": "array", "items": ref("Call")},
			"next_cursor": obj{"type": "string", "description": `Cursor of the next page; "" after the last page.`},
		},
	}
	b.schemas["EventPage"] = obj{
		"type":     "object",
		"required": []string{"events", "next_since", "oldest_seq"},
		"properties": obj{
			"events": obj{"type": "array", "items": b.schemaRef("vox/event", ""),
				"description": `Events in seq order, in their wire form {"event","seq","ts","data"}.`},
			"next_since": obj{"type": "integer", "minimum": 0, "description": "since for the next request: the last seq returned, or since when none was."},
			"oldest_seq": obj{"type": "integer", "minimum": 1, "description": "The oldest seq still retained."},
		},
	}
	b.schemas["CallCreated"] = obj{
		"type": "object", "required": []string{"call_id"},
		"properties": obj{"call_id": b.schemaRef("common", "call_id")},
	}
	b.schemas["CallVariables"] = obj{
		"type": "object", "required": []string{"call_id", "variables"},
		"properties": obj{"call_id": b.schemaRef("common", "call_id"), "variables": b.schemaRef("common", "variables")},
	}
	b.schemas["LoggedOut"] = obj{
		"type": "object", "required": []string{"user_id"},
		"properties": obj{"user_id": b.schemaRef("common", "user_id")},
	}
}
