// Types of the cti-adapter JS shim (/static/cti.js as a classic script, /static/cti.mjs as an ES
// module). Both give the same object: window.CTI and the module's default export. See docs/js.md.

/** Rejection value of every method. */
export interface CTIError {
  errCode:
    | 'OPENCTI_NOT_INITIALIZED'
    | 'OPENCTI_INVALID_ARGUMENT'
    | 'OPENCTI_LOGIN_FAILED'
    | 'OPENCTI_AGENT_NOT_LOGGED_IN'
    | 'OPENCTI_MODE_NOT_SUPPORTED'
    | 'OPENCTI_NOT_AUTHORIZED'
    | 'OPENCTI_NOT_SUPPORTED'
    | 'OPENCTI_CF_INVALID_OBJECT_STATE'
    | 'OPENCTI_CF_INVALID_DESTINATION'
    | 'OPENCTI_CALL_NOT_FOUND'
    | 'OPENCTI_DEST_BUSY'
    | 'OPENCTI_DEVICE_NOT_READY'
    | 'OPENCTI_RATE_LIMITED'
    | 'OPENCTI_LINK_DOWN'
    | 'OPENCTI_TIMEOUT'
    | 'OPENCTI_SERVER_ERROR';
  errMessage: string;
}

/** A call's wrap-up as saved (POST /api/v1/calls/{call_id}/disposition). */
export interface Disposition { code?: string; label?: string; notes?: string; user_id?: string; at: string }

/** A desktop operation of the account's telephony mode (modes/modes.go). */
export type Operation =
  | 'login' | 'logout' | 'setdata' | 'ready' | 'notready' | 'dial' | 'answer' | 'reject' | 'hangup'
  | 'hold' | 'retrieve' | 'mute' | 'unmute' | 'senddtmf' | 'transfer' | 'conference' | 'removeparty' | 'consult'
  | 'video' | 'screenshare';

export type Mode = 'simple' | 'agent-state' | 'full';

/** The server's agent statuses. */
export type AgentStatus = 'offline' | 'online' | 'ready' | 'dnd' | 'in_call' | 'after_call_work';

/** This tab's view of a call's state. 'ended' appears only on the last event of a call. */
export type CallState = 'alerting' | 'dialing' | 'connected' | 'held' | 'ended';

export interface InitOptions {
  /** The adapter's base URL, e.g. "https://cti.example.com" (default: the page's origin). */
  server?: string;
  /** An agent JWT of the account (role agent, sub = the user id). */
  token: string;
  /** 'desktop' (default): a CRM page, limited by the account's mode. 'phone': the agent's own phone. */
  client?: 'desktop' | 'phone';
  /** false: do not use this tab as a phone (no microphone, no peer connection). Default true. */
  phone?: boolean;
  /** How long init waits for the first connection, in ms (default 15000). */
  timeout?: number;
}

/** Fields common to events that come from the server's event log. */
export interface Sequenced {
  /** The account event's seq (absent on events made locally). */
  seq?: number;
  /** The account event's time, RFC 3339 UTC with milliseconds. */
  ts?: string;
  /** True when the event was replayed after a reconnect (resume_from). */
  replayed?: boolean;
}

/** Pega AgentEvent. */
export interface AgentEvent extends Sequenced {
  pyEventType: 'AgentStateEvent';
  pyEventName: 'Ready' | 'NotReady' | 'Login' | 'Logout' | 'Busy' | 'Unknown';
  pyMedia: 'Phone';
  pyAgentId: string;
  pyReasonCode: string;
  pyWorkMode: 'MODE_NONE' | 'MODE_AUTO_IN' | 'MODE_MANUAL_IN' | 'ACW' | 'BUSY' | 'AUX_WORK';
  status: AgentStatus;
  reason: string;
  previous?: AgentStatus;
}

/** Pega CallEvent (pyEventType CallStateEvent). */
export interface CallEvent extends Sequenced {
  pyEventType: 'CallStateEvent';
  pyEventName:
    | 'Alerting' | 'Initiated' | 'Connected' | 'Established' | 'Held' | 'Retrieved' | 'Muted' | 'Unmuted'
    | 'Transferred' | 'Disconnected' | 'Abandoned' | 'Unknown';
  pyMedia: 'Phone';
  pyCallId: string;
  pyCallType: 'INBOUND' | 'OUTBOUND' | 'INTERNAL' | 'CONSULT' | 'UNKNOWN';
  pyANI: string;
  pyDNIS: string;
  pyOtherDN: string;
  pyThisDN: string;
  pyCallData: Record<string, string>;
  callId: string;
  state: CallState;
  phone: string;
  displayName: string;
  source: 'webrtc' | 'sip' | 'internal' | string;
  media: string[];
  queue: string;
  variables: Record<string, string>;
  muted: boolean;
  /** Date.now() when this tab saw the call connect (0 before). */
  connectedAt: number;
  /** A consult call (pyCallType CONSULT): the id of its primary call; '' otherwise (docs/consult.md). */
  consultOf: string;
  /** Disconnected after call_failed: SIP-style code and reason (408 no answer, 486 busy, 603 declined, 404 no route). */
  code?: number;
  reason?: string;
  endedBy?: 'agent' | 'remote' | 'system';
  durationMs?: number;
  /** Transferred: the destination. */
  to?: string;
  /** Transferred by a consult transfer: the agent (toUserId) or number (toPhone) that took the call. */
  toUserId?: string;
  toPhone?: string;
  /** Video and screen calls: the call's media state (docs/video.md); absent on audio calls. */
  mediaState?: MediaState;
}

/** What one side of a video call sends: its camera (video) or its screen, at most one. */
export interface SideMedia { video: boolean; screen: boolean }
/** A video call's media: its kind and each side's camera and screen (media_changed). */
export interface MediaState { media: 'audio' | 'video' | 'screen'; customer: SideMedia; agent: SideMedia }

/** A video call's media changed (media_changed), or a side started / stopped sharing its screen. */
export interface MediaEvent extends Sequenced, Partial<MediaState> {
  pyEventType: 'MediaEvent';
  pyEventName: 'MediaChanged' | 'ScreenShareStarted' | 'ScreenShareStopped';
  pyCallId: string;
  callId: string;
  /** ScreenShare*: who shares. */
  by?: 'customer' | 'agent';
}

/** The phone tab's video streams: the customer's picture and this agent's own (null when none). */
export interface VideoStreams { remote: MediaStream | null; local: MediaStream | null }

/** Pega CallInfoEvent: the call's variables changed. */
export interface CallInfoEvent extends Sequenced {
  pyEventType: 'CallInfoEvent';
  pyEventName: 'CallInfo';
  pyCallId: string;
  pyCallData: Record<string, string>;
  callId: string;
  variables: Record<string, string>;
}

/** Pega PartyInfoEvent: a party joined, left or could not be added. */
export interface PartyInfoEvent extends Sequenced {
  pyEventType: 'PartyInfoEvent';
  pyEventName: 'PartyAdded' | 'PartyRemoved' | 'PartyFailed';
  pyCallId: string;
  pyDN: string;
  callId: string;
  party: string;
  code?: number;
  reason?: string;
}

/** Pega Snapshot: the whole state, sent after every (re)connect and whenever the server sends one. */
export interface Snapshot extends Omit<AgentEvent, 'pyEventType' | 'pyEventName' | keyof Sequenced> {
  pyEventType: 'SnapshotEvent';
  pyEventName: 'Snapshot';
  pyAgentState: AgentEvent['pyEventName'];
  pyLinkState: 'CONNECTED' | 'DISCONNECTED';
  pyDeviceState: 'OPENED' | 'CLOSED';
  pyCalls: CallEvent[];
  mode: Mode | '';
  capabilities: Operation[];
  /** This tab owns the agent's media (calls ring and play here). */
  mediaOwner: boolean;
  /** Where the agent's audio plays: this tab, another tab or session, or none (no healthy phone). */
  audio: 'this-tab' | 'other-tab' | 'none';
  /** When the agent entered its current status (server time, RFC 3339). */
  since: string;
  sessionId: string;
  sessions: number;
  mic: boolean;
}

/** An incoming call's caller and variables, for a screen pop. */
export interface ScreenPop extends Sequenced {
  callId: string;
  caller: { phone: string; name: string; source: string; media: string[] };
  queue: string;
  variables: Record<string, string>;
}

export interface Capabilities {
  mode: Mode | '';
  client: 'desktop' | 'phone';
  capabilities: Operation[];
  /** The methods the mode allows (a phone client is never limited). */
  methods: string[];
}

/** SIGNED_OUT (final: true): no reconnect follows (logged out 4001, token revoked or expired 4003,
 * login refused); reason says why in words. DISCONNECTED: a reconnect follows. */
export interface LinkEvent { state: 'CONNECTED' | 'DISCONNECTED' | 'SIGNED_OUT'; sessionId?: string; code?: number; reason?: string; final?: boolean }
export interface PhoneEvent {
  state: 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed' | 'mic' | 'nomic';
  mic: boolean;
  micError: string;
  owner: boolean;
  detail: string;
  deviceId: string;
}
export interface TabInfo { tab: string; owner: boolean; client: 'desktop' | 'phone'; self: boolean }
/** A raw account event as the server sent it ({event, seq, ts, data}). */
export interface RawEvent { event: string; seq: number; ts: string; data: Record<string, unknown> }

/** One chat message (docs/chat.md). Text is plain text: render it with textContent, never as HTML. */
export interface ChatMessage { from: 'customer' | 'agent' | 'system'; userId: string; text: string; ts: string; msgSeq: number; clientMsgId?: string }

/** A chat this agent is offered or holds. */
export interface ChatInfo { chatId: string; displayName: string; queue: string; state: 'offered' | 'active' | 'wrap_up'; messages: ChatMessage[] }

/** A change of one of the agent's chats. Offered, Message and Ended are PROTOCOLS.md section 7's. */
export interface ChatEvent extends Partial<Sequenced>, Partial<ChatMessage> {
  pyEventType: 'ChatEvent';
  pyEventName: 'Offered' | 'Withdrawn' | 'Accepted' | 'Message' | 'Typing' | 'Delivered' | 'Ended' | 'Completed';
  pyMedia: 'Chat';
  pyChatId: string;
  chatId: string;
  displayName: string;
  queue: string;
  state: string;
  /** Withdrawn: declined, no_answer, chat_ended, agent_logged_out; Ended: customer_left, agent_ended, ... */
  reason?: string;
  endedBy?: 'customer' | 'agent' | 'system';
  wrapUpSeconds?: number;
  /** Typing: whether the customer is typing. */
  typing?: boolean;
  /** Delivered: who acknowledged every message up to msgSeq. */
  by?: 'customer' | 'agent';
}

export interface ChatResult { chatId: string; state: string; messages: ChatMessage[] }

export interface EventMap {
  Snapshot: Snapshot;
  AgentEvent: AgentEvent;
  CallEvent: CallEvent;
  CallInfoEvent: CallInfoEvent;
  PartyInfoEvent: PartyInfoEvent;
  screenPop: ScreenPop;
  /** Alerting stopped for a call (answered here, in another tab, elsewhere, or abandoned). */
  alertStop: { callId: string; by?: string };
  capabilities: Capabilities;
  link: LinkEvent;
  phone: PhoneEvent;
  tabs: TabInfo[];
  resync: { oldestSeq: number };
  /** Another agent of the account changed status (live only; docs/rtc.md, Presence). */
  presence: { userId: string; status: string; reason: string; since: string; seq: number };
  /** A call this agent is not on changed in a way that can move queue counts: reload the directory. */
  directoryChanged: { seq: number };
  error: CTIError;
  raw: RawEvent;
  MediaEvent: MediaEvent;
  ChatEvent: ChatEvent;
  /** The phone tab's video streams changed (a video track arrived, the camera or screen went on or off). */
  video: VideoStreams;
}

export interface CallResult { callId: string; state: string }
/** state: recording, paused or stopped. */
export interface RecordingResult { callId: string; recordingId: string; state: string }

export interface CTI {
  readonly version: string;
  readonly timing: { scriptStart: number; scriptEnd: number; initStart: number; initEnd: number };
  /**
   * Reads the account's mode and capabilities (GET /api/v1/settings, or the first snapshot) and
   * resolves with them; it also connects, which logs the agent in (a Snapshot event follows).
   * Methods called before the connection is up wait for it.
   */
  init(options: InitOptions): Promise<Capabilities & { version: string }>;
  getVersion(): Promise<{ version: string; protocol: string }>;
  getCapabilities(): Promise<Capabilities>;
  /** Resolves with the Snapshot once logged in; logs in again after logout() (init already logs in). */
  login(): Promise<Snapshot>;
  /** Logs the agent out everywhere: every tab and phone of the agent ends. */
  logout(): Promise<{ status: 'offline' }>;
  agentReady(): Promise<{ status: AgentStatus }>;
  agentNotReady(reason?: string): Promise<{ status: AgentStatus; reason: string }>;
  makeCall(destination: string, variables?: Record<string, string>): Promise<CallResult>;
  /** callId defaults to the alerting call. */
  answerCall(callId?: string): Promise<CallResult>;
  rejectCall(callId?: string): Promise<CallResult>;
  /** callId defaults to the active call (here and below). */
  hangUpCall(callId?: string): Promise<CallResult>;
  holdCall(callId?: string): Promise<CallResult>;
  retrieveCall(callId?: string): Promise<CallResult>;
  muteCall(callId?: string): Promise<CallResult>;
  unmuteCall(callId?: string): Promise<CallResult>;
  blindTransfer(callId: string | undefined, destination: string): Promise<CallResult>;
  conferenceInitiate(callId: string | undefined, destination: string): Promise<CallResult>;
  /**
   * Consult calls (docs/consult.md): hold callId (default: the active call) and dial destination (a user id,
   * extension, queue or phone number) as its consult call, a call of pyCallType CONSULT. transferInitiate is the
   * same call with transfer intent. Rejects OPENCTI_DEST_BUSY when the destination cannot take it.
   */
  consultationCall(callId: string | undefined, destination: string): Promise<{ callId: string; consultCallId: string }>;
  transferInitiate(callId: string | undefined, destination: string): Promise<{ callId: string; consultCallId: string }>;
  /** Joins the primary's far party with the consult party and drops the agent (callId: the primary or its consult call). */
  transferComplete(callId?: string): Promise<CallResult>;
  /** Joins all three: the customer, the agent and the consulted party. To cancel, hang up the consult call and retrieve the primary. */
  conferenceComplete(callId?: string): Promise<CallResult>;
  /** number: the user id of the party to remove. */
  dropParty(callId: string | undefined, number: string): Promise<CallResult>;
  sendDTMF(callId: string | undefined, digits: string): Promise<CallResult>;
  /** Call recording (docs/recording.md; full mode; the account's recording setting not off).
   * start on a recording call and pause on a paused one change nothing. */
  startRecording(callId?: string): Promise<RecordingResult>;
  stopRecording(callId?: string): Promise<RecordingResult>;
  /** Pausing leaves silence in the file (card numbers) until resumeRecording. */
  pauseRecording(callId?: string): Promise<RecordingResult>;
  resumeRecording(callId?: string): Promise<RecordingResult>;
  setCallData(callId: string, variables: Record<string, string>): Promise<{ callId: string; variables: Record<string, string> }>;
  /** Wrap-up: one of the account's disposition codes and/or notes, on a live call or one the agent took part in. */
  setDisposition(callId: string, code?: string, notes?: string): Promise<{ callId: string; disposition: Disposition }>;
  /** Moves the agent's media to this tab. */
  takeMedia(): Promise<{ session_id: string }>;
  /** Switches the microphone (replaces the track on the live peer connection). */
  setMicrophone(deviceId: string): Promise<{ deviceId: string; label: string }>;
  /** Asks for the microphone again (after a denial) and renegotiates; rejects OPENCTI_DEVICE_NOT_READY. */
  retryMicrophone(): Promise<{ mic: true }>;
  getMicrophoneStream(): MediaStream | null;
  /**
   * Video calls (PROTOCOLS.md section 7): this agent's camera on / off, its screen sharing on /
   * off. callId defaults to the active call. Rejects OPENCTI_CF_INVALID_OBJECT_STATE for an audio
   * call or a refused transition, OPENCTI_MODE_NOT_SUPPORTED outside full mode (desktops).
   */
  enableVideo(callId?: string): Promise<{ callId: string } & MediaState>;
  disableVideo(callId?: string): Promise<{ callId: string } & MediaState>;
  startScreenShare(callId?: string): Promise<{ callId: string } & MediaState>;
  stopScreenShare(callId?: string): Promise<{ callId: string } & MediaState>;
  getVideo(): VideoStreams;
  /**
   * Chats (docs/chat.md). Mode ops chat_accept (accept, reject), chat_send (messages, typing,
   * delivery) and chat_end (end, complete): full mode only for desktops. Refusals:
   * OPENCTI_NOT_AUTHORIZED (not this agent's chat), OPENCTI_CF_INVALID_OBJECT_STATE (not offered,
   * ended), OPENCTI_INVALID_ARGUMENT (text blank or over 4096 bytes), OPENCTI_RATE_LIMITED.
   */
  acceptChat(chatId: string): Promise<ChatResult>;
  rejectChat(chatId: string): Promise<ChatResult>;
  /** Resolves once the message is stored (its echo arrived). */
  sendChatMessage(chatId: string, text: string): Promise<{ chatId: string; msgSeq: number; ts: string }>;
  sendChatTyping(chatId: string, typing: boolean): Promise<boolean>;
  markChatDelivered(chatId: string, msgSeq: number): Promise<boolean>;
  /** Ends the chat; on an ended chat, ends its after-chat work. */
  endChat(chatId: string): Promise<ChatResult>;
  completeChat(chatId: string): Promise<ChatResult>;
  getChats(): ChatInfo[];
  getPeerConnection(): RTCPeerConnection | null;
  getCalls(): CallEvent[];
  getState(): Snapshot;
  getTabs(): TabInfo[];
  on<K extends keyof EventMap>(event: K, handler: (payload: EventMap[K]) => void): CTI;
  off<K extends keyof EventMap>(event: K, handler?: (payload: EventMap[K]) => void): CTI;
}

declare const CTI: CTI;
export default CTI;

declare global {
  /** The classic script's global (`<script src=".../cti.js">` then `CTI.init(...)`). */
  var CTI: CTI;
  interface Window {
    CTI: CTI;
  }
}
