package integration

import (
	"testing"
)

// chatSharePage is a customer in a chat sharing its screen, as the chat widget does it over
// /rtc (docs/video.md): a chat token, chat_start, then getDisplayMedia and an offer with media
// ["screen"] on the same connection.
const chatSharePage = `(async () => {
  const tok = await (await fetch('/webcall/demo/token', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"kind":"chat"}'})).json();
  const S = window.S = {frames: [], cands: []};
  const ws = S.ws = new WebSocket(location.origin.replace(/^http/, 'ws') + '/rtc', ['cti.rtc', 'access_token.' + tok.token]);
  ws.onmessage = (e) => {
    const f = JSON.parse(e.data); S.frames.push(f);
    if (f.type === 'welcome') ws.send(JSON.stringify({type: 'chat_start', display_name: 'Ada'}));
    if (f.type === 'chat_state') S.chat = f;
    if (f.type === 'screen_share') S.share = f;
    if (f.type === 'answer') S.pc.setRemoteDescription({type: 'answer', sdp: f.sdp}).then(() => S.cands.splice(0).forEach(c => S.pc.addIceCandidate(c).catch(() => {})));
    if (f.type === 'candidate' && S.pc) { if (S.pc.remoteDescription) S.pc.addIceCandidate(f.candidate).catch(() => {}); else S.cands.push(f.candidate); }
  };
  window.startShare = async () => {
    const s = await navigator.mediaDevices.getDisplayMedia({video: true});
    const pc = S.pc = new RTCPeerConnection();
    pc.addTransceiver('audio', {direction: 'recvonly'});
    pc.addTrack(s.getVideoTracks()[0], s);
    pc.onicecandidate = (e) => { if (e.candidate && e.candidate.candidate) ws.send(JSON.stringify({type: 'candidate', candidate: e.candidate.toJSON()})); };
    await pc.setLocalDescription(await pc.createOffer());
    ws.send(JSON.stringify({type: 'offer', sdp: pc.localDescription.sdp, media: ['screen']}));
    return 1;
  };
  return 1;
})()`

// TestBrowserChatScreenShare (issue 12 item 4, seed 001): a customer in a chat with agent1
// shares its screen from Chromium (fake screen); agent1's softphone is told (screen sharing
// started by the customer) and shows the screen in its video box (frames decode, a keyframe
// arrived); the customer's camera and the agent's video stay off (the customer decodes no
// video) until the agent turns its camera on from the softphone.
func TestBrowserChatScreenShare(t *testing.T) {
	browserTest(t)
	s := newRTCServer(t)
	b := newBrowser(t)
	phone := s.agentTab(b, "softphone agent1", "/softphone", "agent1")
	phone.waitPhone()
	phone.waitFor("media owner", `CTI.getState().mediaOwner`, browserStep)
	phone.click("#btn-ready")
	phone.waitFor("ready", `CTI.getState().status === 'ready'`, browserStep)

	cust := b.newTab("customer", s.URL+"/demo/customer")
	cust.eval(chatSharePage, nil)
	cust.waitFor("chat queued or offered", `S.chat && S.chat.chat_id`, browserStep)
	var chatID string
	cust.eval(`S.chat.chat_id`, &chatID)
	phone.waitFor("chat offered", `CTI.getChats().some(c => c.chatId === '`+chatID+`' || c.chat_id === '`+chatID+`')`, browserStep)
	phone.eval(`CTI.acceptChat('`+chatID+`').then(() => 1)`, nil)
	cust.waitFor("chat active", `S.chat.state === 'active'`, browserStep)

	cust.eval(`startShare()`, nil)
	cust.waitFor("share started", `S.share && S.share.state === 'started'`, browserStep)
	phone.waitFor("screen share notification", `document.getElementById('log').textContent.includes('screen sharing started by customer')`, browserStep)
	phone.waitFor("video box", `!document.getElementById('call').hidden && !document.getElementById('videos').hidden`, browserStep)
	if v := phone.videoGrows("agent sees the customer's screen", ctiPC, 10); v.Keyframes == 0 {
		t.Fatal("the agent decoded no keyframe of the screen")
	}
	var camLabel string
	phone.eval(`document.getElementById('btn-camera').textContent`, &camLabel)
	if camLabel != "Camera on" {
		t.Fatalf("the agent's camera button says %q: its video should be off on a screen share", camLabel)
	}
	const custPC = `(window.S && S.pc)`
	if v := cust.videoIn(custPC); v.Frames != 0 {
		t.Fatalf("the customer decodes %d frames of the agent before the agent turned its camera on", v.Frames)
	}
	phone.click("#btn-camera")
	cust.videoGrows("customer sees the agent after it turned its camera on", custPC, 10)
}
