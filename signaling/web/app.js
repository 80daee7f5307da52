// SPDX-License-Identifier: BSD-3-Clause
//
// sotto's web client (docs/signaling.md): a 1:1 call in relay mode or a
// group call in gateway mode; the room's creator chooses, and the "joined"
// message tells everyone which.
//
// The page creates a room (or joins one from a "#join=<token>" link) and
// signals over sottod's WebSocket.
//
// Relay mode: TURN credentials from sottod, one RTCPeerConnection to the
// other browser restricted to relay candidates. Audio is DTLS-SRTP between
// the two browsers; the verification code lets the callers check that
// nobody swapped the DTLS fingerprints in signaling.
//
// Gateway mode: one RTCPeerConnection to sotto itself (ICE-lite, a host
// candidate on its media address, no ICE servers): the microphone on a
// sendrecv transceiver and slots-1 recvonly ones; sotto sends the loudest
// other speakers on those slots, each played by its own <audio>. DTLS-SRTP
// ends at sotto, which decrypts and re-encrypts: hop by hop, so there is no
// verification code, and the page says so.
//
// Everything a test needs is mirrored on window.sotto and refreshed from
// getStats() every 500 ms.
//
// Query parameters (for tests and development):
//   ?autostart=1      click "Start a call" on load
//   ?mode=gateway     preselect the group (gateway) call (or mode=relay)
//   ?audio=raw        no echo cancellation, noise suppression or gain
//                     control on the microphone (for test tones)
//   ?ws=<ws(s) URL>   signal through this WebSocket instead of /v1/ws
//                     (honoured only when the page's host is loopback)
'use strict';

(() => {
	const STATS_INTERVAL_MS = 500;
	// The server closes a socket that sent nothing for 60 s.
	const PING_INTERVAL_MS = 25000;
	const HISTORY_MAX = 200;
	// Gateway mode: how many times a leg the gateway ended is offered
	// again before the call counts as failed.
	const LEG_RETRIES = 1;
	// Socket errors after which the server has closed the connection, or
	// after which this call cannot go on.
	const FATAL_ERRORS = new Set([
		'invalid_token', 'kicked', 'room_closed', 'room_full',
		'room_locked', 'sdp_rejected', 'already_joined',
	]);

	const $ = (id) => document.getElementById(id);
	const params = new URLSearchParams(location.search);

	// The test-visible state. Fields are null until known.
	const sotto = {
		state: 'idle',
		mode: null,               // 'relay' | 'gateway', from "joined"
		slots: null,              // gateway: receive slots
		participants: [],         // gateway: the others' peer ids
		role: null,
		room: null,
		peer: null,
		remotePeer: null,
		inviteLink: null,
		signaling: 'closed',
		iceState: null,
		connectionState: null,
		localCandidateType: null,
		localAddress: null,
		localPort: null,
		remoteCandidateType: null,
		remoteAddress: null,
		remotePort: null,
		relayProtocol: null,
		iceEverConnected: false,
		dtlsState: null,
		dtlsRole: null,
		dtlsEverConnected: false,
		dtlsCipher: null,
		tlsVersion: null,
		srtpCipher: null,
		bytesReceived: 0,
		packetsReceived: 0,
		bytesSent: 0,
		inbound: [],              // per inbound-rtp stream (gateway: per slot)
		remoteCandidates: [],     // every remote candidate getStats knows
		localFingerprint: null,
		remoteFingerprint: null,
		localSetup: null,
		remoteSetup: null,
		code: null,
		codeText: null,
		legEnded: 0,              // gateway: legs sotto ended
		legEndedReason: null,
		muted: false,
		lastError: null,
		history: [],
		statsAt: 0,
	};
	window.sotto = sotto;

	// The current call; replaced on every (re)join so that events of an
	// old socket or peer connection are ignored.
	let call = null;

	class ServerError extends Error {
		constructor(code, reason, status) {
			super(reason ? `${reason} (${code})` : code);
			this.code = code;
			this.status = status;
		}
	}

	function note(event) {
		sotto.history.push(`${((performance.now()) / 1000).toFixed(1)}s ${event}`);
		if (sotto.history.length > HISTORY_MAX)
			sotto.history.shift();
		console.log(`sotto: ${event}`);
	}

	// --- display --------------------------------------------------------

	const STATE_TEXT = {
		'idle': 'idle',
		'starting': 'creating the room…',
		'connecting': 'connecting…',
		'waiting': 'waiting for the other person…',
		'rejoining': 'the server ended the connection; connecting again…',
		'connected': 'connected',
		'reconnecting': 'connection interrupted…',
		'failed': 'failed',
		'peer-left': 'the other person left',
		'left': 'you left the call',
		'error': 'error',
	};

	// getStats' tlsVersion is the record-layer version in hex.
	const DTLS_VERSIONS = { 'FEFD': 'DTLS 1.2', 'FEFC': 'DTLS 1.3' };

	function setState(state) {
		if (sotto.state === state)
			return;
		sotto.state = state;
		note(`state ${state}`);
		render();
	}

	function showError(text) {
		sotto.lastError = text;
		note(`error ${text}`);
		const el = $('error');
		el.textContent = text;
		el.hidden = false;
	}

	function clearError() {
		sotto.lastError = null;
		$('error').hidden = true;
		$('error').textContent = '';
	}

	function formatBytes(n) {
		if (n < 10000)
			return `${n} B`;
		if (n < 10000000)
			return `${(n / 1000).toFixed(1)} kB`;
		return `${(n / 1000000).toFixed(1)} MB`;
	}

	const MODE_TEXT = {
		'relay': '1:1, end-to-end encrypted, relayed',
		'gateway': 'group, encrypted hop by hop through the server',
	};

	function renderParticipants() {
		const gw = sotto.mode === 'gateway';
		$('participants-box').hidden = !gw;
		if (!gw)
			return;
		const n = sotto.participants.length;
		$('participants-count').textContent = n === 0 ?
			'nobody else is here yet' : `${n} other${n === 1 ? '' : 's'} in the room`;
		const ul = $('participants');
		const want = [sotto.peer ? `${sotto.peer} (you)` : null, ...sotto.participants]
			.filter(Boolean);
		const have = [...ul.children].map((li) => li.textContent);
		if (have.join('\n') === want.join('\n'))
			return;
		ul.replaceChildren(...want.map((text, i) => {
			const li = document.createElement('li');
			li.textContent = text;
			if (i === 0 && sotto.peer)
				li.className = 'you';
			return li;
		}));
	}

	function render() {
		const st = $('state');
		st.textContent = STATE_TEXT[sotto.state] || sotto.state;
		st.className = `state ${sotto.state}`;
		$('room').textContent = sotto.room ? sotto.room.slice(0, 8) : '–';
		$('mode').textContent = MODE_TEXT[sotto.mode] || '–';
		$('role').textContent = sotto.role || '–';
		$('code').textContent = sotto.codeText || '––– –––';
		const gw = sotto.mode === 'gateway';
		$('code-box').hidden = gw;
		$('gateway-notice').hidden = !gw;
		$('invite-text').textContent = gw ?
			'Send this link to the people you want in the call. Anyone with it can join.' :
			'Send this link to the person you want to talk to. Anyone with it can join this call.';
		renderParticipants();
		$('slots-label').hidden = !gw;
		$('slots').hidden = !gw;
		if (gw) {
			const busy = sotto.inbound.filter((s) => s.packetsReceived > 0).length;
			$('slots').textContent = sotto.slots ?
				`${sotto.slots} (${busy} receiving audio)` : '–';
		}

		if (sotto.localCandidateType) {
			$('path').textContent =
				`${sotto.localCandidateType} ${sotto.localAddress}:${sotto.localPort} ⇄ ` +
				`${sotto.remoteCandidateType} ${sotto.remoteAddress}:${sotto.remotePort}`;
		} else {
			$('path').textContent = sotto.iceState ? `ICE ${sotto.iceState}` : '–';
		}
		$('dtls').textContent = sotto.dtlsState ?
			[sotto.dtlsState, DTLS_VERSIONS[sotto.tlsVersion] || sotto.tlsVersion, sotto.dtlsCipher]
				.filter(Boolean).join(', ') : '–';
		$('srtp').textContent = sotto.srtpCipher || '–';
		$('received').textContent = sotto.packetsReceived ?
			`${formatBytes(sotto.bytesReceived)} (${sotto.packetsReceived} packets)` : '–';

		const inCall = call !== null && !call.ended;
		$('mute').disabled = !inCall;
		$('mute').textContent = sotto.muted ? 'Unmute' : 'Mute';
		$('mute').classList.toggle('active', sotto.muted);
		$('leave').disabled = !inCall;
		$('rejoin').hidden = !(call !== null && call.ended && call.token);
	}

	// --- HTTP API -------------------------------------------------------

	async function api(method, path, token, body) {
		const headers = {};
		const init = { method, headers, cache: 'no-store', credentials: 'omit' };
		if (token)
			headers['Authorization'] = `Bearer ${token}`;
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		let res;
		try {
			res = await fetch(path, init);
		} catch (e) {
			throw new Error(`cannot reach the server (${e.message})`);
		}
		let data = null;
		try {
			data = await res.json();
		} catch (e) {
			data = null;
		}
		if (!res.ok) {
			if (data && typeof data.error === 'string')
				throw new ServerError(data.error, data.reason, res.status);
			throw new ServerError(`http_${res.status}`, res.statusText, res.status);
		}
		if (data === null || typeof data !== 'object')
			throw new Error(`${method} ${path}: the server's answer is not JSON`);
		return data;
	}

	// The room id from a token's payload, for display only: the server
	// checks the signature.
	function tokenClaims(token) {
		const parts = token.split('.');
		if (parts.length !== 3)
			return null;
		try {
			let b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
			b64 += '='.repeat((4 - (b64.length % 4)) % 4);
			const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
			const claims = JSON.parse(new TextDecoder().decode(bytes));
			if (typeof claims.room !== 'string' || !/^[0-9a-f]{32}$/.test(claims.room))
				return null;
			return claims;
		} catch (e) {
			return null;
		}
	}

	// --- verification code (docs/signaling.md "Verification code") -------

	// The sha-256 fingerprint of an SDP, uppercase colon hex, or null if
	// there is none or more than one distinct (which one would DTLS check?).
	function sdpFingerprint(sdp) {
		const re = /^a=fingerprint:sha-256[ \t]+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31})[ \t]*\r?$/gm;
		const seen = new Set();
		for (const m of sdp.matchAll(re))
			seen.add(m[1].toUpperCase());
		return seen.size === 1 ? [...seen][0] : null;
	}

	// RFC 5763 §5: "active" is the DTLS client.
	function sdpSetup(sdp) {
		const m = /^a=setup:(actpass|active|passive)\b/m.exec(sdp);
		return m ? m[1] : null;
	}

	async function verificationCode(fpA, fpB) {
		const text = [fpA, fpB].sort().join('\n');
		const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
		const n = new DataView(digest).getUint32(0, false) % 1000000;
		return String(n).padStart(6, '0');
	}

	async function updateCode(c) {
		const pc = c.pc;
		if (!pc || !pc.localDescription || !pc.remoteDescription)
			return;
		const local = sdpFingerprint(pc.localDescription.sdp);
		const remote = sdpFingerprint(pc.remoteDescription.sdp);
		if (!local || !remote) {
			showError('the session descriptions do not carry exactly one sha-256 fingerprint each; the call cannot be verified');
			return;
		}
		const code = await verificationCode(local, remote);
		if (c !== call || pc !== c.pc)
			return;
		sotto.localFingerprint = local;
		sotto.remoteFingerprint = remote;
		sotto.localSetup = sdpSetup(pc.localDescription.sdp);
		sotto.remoteSetup = sdpSetup(pc.remoteDescription.sdp);
		sotto.code = code;
		sotto.codeText = `${code.slice(0, 3)} ${code.slice(3)}`;
		note(`code ${sotto.codeText}`);
		render();
	}

	// --- signaling ------------------------------------------------------

	// ?ws= would let a crafted link route a caller's signaling through
	// anyone's server, so it works only on a development (loopback) origin.
	function loopbackOrigin() {
		const h = location.hostname;
		return h === 'localhost' || h === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(h);
	}

	function wsUrl() {
		const override = params.get('ws');
		if (override) {
			if (!loopbackOrigin())
				showError('ignoring ?ws=: only a page served from a loopback address may choose its signaling server');
			else if (/^wss?:\/\//.test(override))
				return override;
			else
				showError(`ignoring ?ws=${override}: not a ws:// or wss:// URL`);
		}
		const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
		return `${scheme}//${location.host}/v1/ws`;
	}

	function send(c, msg) {
		if (c.ws && c.ws.readyState === WebSocket.OPEN) {
			c.ws.send(JSON.stringify(msg));
			return true;
		}
		note(`cannot send ${msg.type}: signaling is closed`);
		return false;
	}

	function openSocket(c) {
		const ws = new WebSocket(wsUrl());
		c.ws = ws;
		sotto.signaling = 'connecting';
		ws.onopen = () => {
			if (c !== call)
				return;
			sotto.signaling = 'open';
			note('signaling open');
			send(c, { type: 'join', token: c.token });
			c.pingTimer = setInterval(() => send(c, { type: 'ping' }), PING_INTERVAL_MS);
		};
		ws.onmessage = (ev) => {
			if (c !== call)
				return;
			let msg;
			try {
				msg = JSON.parse(ev.data);
			} catch (e) {
				note('ignoring a signaling message that is not JSON');
				return;
			}
			if (msg === null || typeof msg !== 'object' || typeof msg.type !== 'string') {
				note('ignoring a signaling message without a type');
				return;
			}
			// One message at a time: an answer's candidates must not
			// overtake the answer.
			c.chain = c.chain.then(() => handle(c, msg)).catch((e) => {
				if (c !== call)
					return;
				showError(`${msg.type}: ${e.message}`);
				endCall(c, 'failed');
			});
		};
		ws.onclose = (ev) => {
			if (c !== call)
				return;
			sotto.signaling = 'closed';
			clearInterval(c.pingTimer);
			note(`signaling closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
			if (c.ended)
				return;
			if (sotto.state === 'connected') {
				// Media does not need signaling; it goes on until
				// someone leaves.
				showError('the signaling connection closed; the call goes on but cannot be re-established');
				return;
			}
			if (!c.serverError)
				showError(`the signaling connection closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})`);
			endCall(c, 'failed');
		};
	}

	async function handle(c, msg) {
		if (c !== call || c.ended)
			return;
		switch (msg.type) {
		case 'joined':
			sotto.peer = msg.peer || null;
			if (msg.role)
				sotto.role = msg.role;
			c.mode = sotto.mode = msg.mode === 'gateway' ? 'gateway' : 'relay';
			note(`joined as ${sotto.peer} (${sotto.role}), ${c.mode} mode, ${(msg.peers || []).length} already here`);
			if (c.mode === 'gateway') {
				if (!Number.isInteger(msg.slots) || msg.slots < 1 || msg.slots > 16)
					throw new Error(`the server named no usable number of slots (${msg.slots})`);
				c.slots = sotto.slots = msg.slots;
				sotto.participants = Array.isArray(msg.peers) ?
					msg.peers.filter((x) => typeof x === 'string') : [];
				setState('connecting');
				await gatewayOffer(c);
				break;
			}
			await fetchCredentials(c);
			if (Array.isArray(msg.peers) && msg.peers.length > 0) {
				// The second to join offers.
				c.remotePeer = sotto.remotePeer = msg.peers[0];
				setState('connecting');
				await makeOffer(c);
			} else {
				setState('waiting');
			}
			break;
		case 'peer-joined':
			note(`peer ${msg.peer} joined`);
			if (c.mode === 'gateway') {
				if (typeof msg.peer === 'string' && !sotto.participants.includes(msg.peer))
					sotto.participants.push(msg.peer);
				render();
				break;
			}
			if (!c.remotePeer) {
				c.remotePeer = sotto.remotePeer = msg.peer;
				setState('connecting');
			}
			break;
		case 'offer':
			if (c.mode === 'gateway') {
				note(`ignoring an offer from ${msg.from}: the gateway is the only peer`);
				break;
			}
			if (!c.remotePeer)
				c.remotePeer = sotto.remotePeer = msg.from;
			if (msg.from !== c.remotePeer) {
				note(`ignoring an offer from ${msg.from}`);
				break;
			}
			await acceptOffer(c, msg.sdp);
			break;
		case 'answer':
			if (c.mode === 'gateway') {
				if (msg.from !== 'gateway' || !c.pc || c.pc.signalingState !== 'have-local-offer') {
					note(`ignoring an answer from ${msg.from}`);
					break;
				}
				await c.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
				note('gateway answer applied');
				updateFingerprints(c);
				break;
			}
			if (msg.from !== c.remotePeer || !c.pc || c.pc.signalingState !== 'have-local-offer') {
				note(`ignoring an answer from ${msg.from}`);
				break;
			}
			await c.pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp });
			note('answer applied');
			await updateCode(c);
			break;
		case 'candidate':
			if (c.mode === 'gateway') {
				// sotto is ICE-lite: its candidate is in the answer.
				note(`ignoring a candidate from ${msg.from}`);
				break;
			}
			if (msg.from !== c.remotePeer || !c.pc) {
				note(`ignoring a candidate from ${msg.from}`);
				break;
			}
			if (msg.candidate === null || msg.candidate === undefined) {
				note('remote end of candidates');
				try {
					await c.pc.addIceCandidate();
				} catch (e) {
					note(`end of candidates: ${e.message}`);
				}
			} else {
				// One unusable candidate does not end the call;
				// ICE fails by itself if none works.
				try {
					await c.pc.addIceCandidate(msg.candidate);
				} catch (e) {
					note(`candidate refused: ${e.message}`);
				}
			}
			break;
		case 'peer-left':
			note(`peer ${msg.peer} left`);
			if (c.mode === 'gateway') {
				sotto.participants = sotto.participants.filter((x) => x !== msg.peer);
				render();
				break;
			}
			if (msg.peer === c.remotePeer) {
				closePeerConnection(c);
				c.remotePeer = sotto.remotePeer = null;
				resetMediaState();
				setState('peer-left');
			}
			break;
		case 'gateway-leg-ended': {
			if (c.mode !== 'gateway')
				break;
			sotto.legEnded += 1;
			sotto.legEndedReason = typeof msg.reason === 'string' ? msg.reason : null;
			const why = sotto.legEndedReason || 'no reason given';
			if (c.legRetries < LEG_RETRIES) {
				c.legRetries += 1;
				showError(`the server ended the audio connection (${why}); connecting again`);
				setState('rejoining');
				await gatewayOffer(c);
			} else {
				showError(`the server ended the audio connection again (${why}); use "Join again" to retry`);
				endCall(c, 'failed');
			}
			break;
		}
		case 'pong':
			break;
		case 'error': {
			const text = msg.reason ? `${msg.reason} (${msg.error})` : String(msg.error);
			showError(`server: ${text}${msg.ref ? ` [${msg.ref}]` : ''}`);
			if (FATAL_ERRORS.has(msg.error)) {
				c.serverError = true;
				endCall(c, 'failed');
			}
			break;
		}
		default:
			note(`ignoring message type ${msg.type}`);
		}
	}

	// --- the peer connection --------------------------------------------

	function newPeerConnection(c) {
		closePeerConnection(c);
		resetMediaState();
		const pc = new RTCPeerConnection({
			iceServers: c.iceServers,
			iceTransportPolicy: 'relay',
			bundlePolicy: 'max-bundle',
			rtcpMuxPolicy: 'require',
		});
		c.pc = pc;
		for (const track of c.stream.getAudioTracks())
			pc.addTrack(track, c.stream);

		pc.onicecandidate = (ev) => {
			if (pc !== c.pc || !c.remotePeer)
				return;
			// An empty candidate string is the old end-of-candidates
			// form; the null candidate that follows says it.
			if (ev.candidate && !ev.candidate.candidate)
				return;
			// Only the three fields docs/signaling.md names.
			const cand = ev.candidate ? {
				candidate: ev.candidate.candidate,
				sdpMid: ev.candidate.sdpMid,
				sdpMLineIndex: ev.candidate.sdpMLineIndex,
			} : null;
			send(c, { type: 'candidate', to: c.remotePeer, candidate: cand });
		};
		pc.onicecandidateerror = (ev) => {
			// A 401 on the first Allocate is the normal TURN challenge.
			if (ev.errorCode !== 401)
				note(`ICE candidate error ${ev.errorCode} ${ev.errorText || ''} (${ev.url || ''})`);
		};
		watchStates(c, pc);
		pc.ontrack = (ev) => {
			const audio = $('remote-audio');
			audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
			audio.play().catch((e) => note(`audio playback: ${e.message}`));
		};
		return pc;
	}

	// ICE and connection state, for both modes.
	function watchStates(c, pc) {
		pc.oniceconnectionstatechange = () => {
			if (pc !== c.pc)
				return;
			sotto.iceState = pc.iceConnectionState;
			if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed')
				sotto.iceEverConnected = true;
			note(`ice ${pc.iceConnectionState}`);
			render();
		};
		pc.onconnectionstatechange = () => {
			if (pc !== c.pc || c.ended)
				return;
			sotto.connectionState = pc.connectionState;
			note(`connection ${pc.connectionState}`);
			switch (pc.connectionState) {
			case 'connected':
				// A gateway leg offered again after sotto ended
				// the last one: the notice is history now.
				if (sotto.state === 'rejoining')
					clearError();
				setState('connected');
				break;
			case 'disconnected':
				setState('reconnecting');
				break;
			case 'failed':
				if (c.mode === 'gateway') {
					if (sotto.dtlsEverConnected)
						showError('the connection to the server was lost');
					else if (sotto.iceEverConnected)
						showError('the encrypted connection to the server could not be set up (DTLS failed)');
					else
						showError('no path to the server\'s media address (ICE failed)');
				} else if (sotto.dtlsEverConnected) {
					showError('the connection to the other person was lost');
				} else if (sotto.iceEverConnected) {
					showError('the encrypted connection could not be set up (DTLS failed): the other side\'s certificate does not match the one signaling delivered, or the connection broke; do not trust this call');
				} else {
					showError('no relayed path to the other person (ICE failed)');
				}
				setState('failed');
				break;
			default:
				break;
			}
		};
	}

	// Gateway mode: the one connection, to sotto. No ICE servers: sotto
	// answers with a host candidate on its media address (ICE-lite), and
	// the browser pairs its own host candidates with it; nobody else's
	// address is ever seen. The microphone goes on a sendrecv transceiver,
	// and slots-1 recvonly ones take the other speakers sotto picks.
	function newGatewayConnection(c) {
		closePeerConnection(c);
		resetMediaState();
		const pc = new RTCPeerConnection({
			iceServers: [],
			bundlePolicy: 'max-bundle',
			rtcpMuxPolicy: 'require',
		});
		c.pc = pc;
		const mic = c.stream.getAudioTracks()[0];
		pc.addTransceiver(mic || 'audio', {
			direction: mic ? 'sendrecv' : 'recvonly',
			streams: [c.stream],
		});
		for (let i = 1; i < c.slots; i++)
			pc.addTransceiver('audio', { direction: 'recvonly' });
		watchStates(c, pc);
		pc.ontrack = (ev) => {
			if (pc !== c.pc)
				return;
			const i = pc.getTransceivers().indexOf(ev.transceiver);
			const audio = document.createElement('audio');
			audio.autoplay = true;
			audio.id = `slot-audio-${i}`;
			audio.srcObject = new MediaStream([ev.track]);
			$('slot-audio').append(audio);
			audio.play().catch((e) => note(`audio playback (slot ${i}): ${e.message}`));
			note(`slot ${i} track (mid ${ev.transceiver.mid})`);
		};
		return pc;
	}

	async function gatewayOffer(c) {
		const pc = newGatewayConnection(c);
		const offer = await pc.createOffer();
		await pc.setLocalDescription(offer);
		watchDtls(c);
		// Trickled candidates are not needed: sotto learns the address
		// from the browser's connectivity checks.
		send(c, { type: 'offer', to: 'gateway', sdp: pc.localDescription.sdp });
		note(`offer sent to the gateway (${c.slots} slots)`);
	}

	// Gateway mode: the fingerprints are shown for the record, but they
	// make no verification code (the other end is the server).
	function updateFingerprints(c) {
		const pc = c.pc;
		if (!pc || !pc.localDescription || !pc.remoteDescription)
			return;
		sotto.localFingerprint = sdpFingerprint(pc.localDescription.sdp);
		sotto.remoteFingerprint = sdpFingerprint(pc.remoteDescription.sdp);
		sotto.localSetup = sdpSetup(pc.localDescription.sdp);
		sotto.remoteSetup = sdpSetup(pc.remoteDescription.sdp);
		render();
	}

	// The DTLS transport exists once a description is applied.
	function watchDtls(c) {
		const pc = c.pc;
		const sender = pc.getSenders()[0];
		const t = sender && sender.transport;
		if (!t || c.dtlsWatched === t)
			return;
		c.dtlsWatched = t;
		const onState = () => {
			if (pc !== c.pc)
				return;
			sotto.dtlsState = t.state;
			if (t.state === 'connected')
				sotto.dtlsEverConnected = true;
			note(`dtls ${t.state}`);
			render();
		};
		t.addEventListener('statechange', onState);
		t.addEventListener('error', (ev) => {
			if (pc === c.pc)
				note(`dtls error: ${ev.error ? ev.error.message : 'unknown'}`);
		});
		onState();
	}

	async function makeOffer(c) {
		const pc = newPeerConnection(c);
		const offer = await pc.createOffer();
		await pc.setLocalDescription(offer);
		watchDtls(c);
		send(c, { type: 'offer', to: c.remotePeer, sdp: pc.localDescription.sdp });
		note('offer sent');
	}

	async function acceptOffer(c, sdp) {
		// A peer that left and came back sends a fresh offer: start over.
		let pc = c.pc;
		if (!pc || pc.remoteDescription || pc.signalingState !== 'stable')
			pc = newPeerConnection(c);
		await pc.setRemoteDescription({ type: 'offer', sdp });
		const answer = await pc.createAnswer();
		await pc.setLocalDescription(answer);
		watchDtls(c);
		send(c, { type: 'answer', to: c.remotePeer, sdp: pc.localDescription.sdp });
		note('answer sent');
		setState('connecting');
		await updateCode(c);
	}

	function closePeerConnection(c) {
		if (c.pc) {
			c.pc.close();
			c.pc = null;
		}
		c.dtlsWatched = null;
		$('remote-audio').srcObject = null;
		for (const audio of [...$('slot-audio').children]) {
			audio.srcObject = null;
			audio.remove();
		}
	}

	function resetMediaState() {
		Object.assign(sotto, {
			iceState: null,
			connectionState: null,
			localCandidateType: null,
			localAddress: null,
			localPort: null,
			remoteCandidateType: null,
			remoteAddress: null,
			remotePort: null,
			relayProtocol: null,
			iceEverConnected: false,
			dtlsState: null,
			dtlsRole: null,
			dtlsEverConnected: false,
			dtlsCipher: null,
			tlsVersion: null,
			srtpCipher: null,
			bytesReceived: 0,
			packetsReceived: 0,
			bytesSent: 0,
			inbound: [],
			remoteCandidates: [],
			localFingerprint: null,
			remoteFingerprint: null,
			localSetup: null,
			remoteSetup: null,
			code: null,
			codeText: null,
		});
	}

	// --- stats ----------------------------------------------------------

	async function pollStats() {
		const c = call;
		if (!c || !c.pc || c.ended)
			return;
		const pc = c.pc;
		let report;
		try {
			report = await pc.getStats();
		} catch (e) {
			return;
		}
		if (pc !== c.pc)
			return;
		let transport = null;
		const inbound = [];
		let outbound = null;
		const pairs = [];
		const remotes = [];
		report.forEach((s) => {
			if (s.type === 'transport' && (!transport || s.selectedCandidatePairId))
				transport = s;
			else if (s.type === 'inbound-rtp' && s.kind === 'audio')
				inbound.push(s);
			else if (s.type === 'outbound-rtp' && s.kind === 'audio')
				outbound = s;
			else if (s.type === 'candidate-pair')
				pairs.push(s);
			else if (s.type === 'remote-candidate')
				remotes.push(s);
		});
		let pair = null;
		if (transport && transport.selectedCandidatePairId)
			pair = report.get(transport.selectedCandidatePairId) || null;
		if (!pair)
			pair = pairs.find((p) => p.selected || (p.nominated && p.state === 'succeeded')) || null;
		const local = pair ? report.get(pair.localCandidateId) : null;
		const remote = pair ? report.get(pair.remoteCandidateId) : null;

		sotto.localCandidateType = local ? local.candidateType : null;
		sotto.localAddress = local ? (local.address || local.ip || null) : null;
		sotto.localPort = local ? local.port : null;
		sotto.relayProtocol = local ? (local.relayProtocol || null) : null;
		sotto.remoteCandidateType = remote ? remote.candidateType : null;
		sotto.remoteAddress = remote ? (remote.address || remote.ip || null) : null;
		sotto.remotePort = remote ? remote.port : null;
		if (transport) {
			sotto.dtlsState = transport.dtlsState || sotto.dtlsState;
			if (transport.dtlsState === 'connected')
				sotto.dtlsEverConnected = true;
			sotto.dtlsRole = transport.dtlsRole || null;
			sotto.dtlsCipher = transport.dtlsCipher || null;
			sotto.tlsVersion = transport.tlsVersion || null;
			sotto.srtpCipher = transport.srtpCipher || null;
		}
		// One inbound-rtp per stream: relay mode has one, gateway mode
		// one per slot that has received something.
		const mids = pc.getTransceivers().map((t) => t.mid);
		sotto.inbound = inbound.map((s) => ({
			mid: s.mid === undefined ? null : s.mid,
			slot: s.mid === undefined ? null : mids.indexOf(s.mid),
			ssrc: s.ssrc,
			bytesReceived: s.bytesReceived || 0,
			packetsReceived: s.packetsReceived || 0,
			packetsLost: s.packetsLost || 0,
			audioLevel: s.audioLevel === undefined ? null : s.audioLevel,
			totalSamplesReceived: s.totalSamplesReceived || 0,
		})).sort((a, b) => (a.slot ?? 99) - (b.slot ?? 99));
		sotto.bytesReceived = sotto.inbound.reduce((n, s) => n + s.bytesReceived, 0);
		sotto.packetsReceived = sotto.inbound.reduce((n, s) => n + s.packetsReceived, 0);
		sotto.remoteCandidates = remotes.map((s) => ({
			candidateType: s.candidateType || null,
			address: s.address || s.ip || null,
			port: s.port,
			protocol: s.protocol || null,
		}));
		sotto.bytesSent = outbound ? outbound.bytesSent || 0 : 0;
		sotto.statsAt = Date.now();
		render();
	}

	// --- call lifecycle -------------------------------------------------

	async function join(token, role) {
		const claims = tokenClaims(token);
		if (!claims) {
			showError('this link does not hold a valid room token');
			setState('error');
			return;
		}
		clearError();
		const c = {
			token,
			role,
			ws: null,
			pc: null,
			stream: null,
			iceServers: null,
			remotePeer: null,
			chain: Promise.resolve(),
			pingTimer: null,
			dtlsWatched: null,
			serverError: false,
			ended: false,
			mode: null,
			slots: null,
			legRetries: 0,
		};
		call = c;
		sotto.role = role;
		sotto.room = claims.room;
		sotto.peer = null;
		sotto.remotePeer = null;
		sotto.muted = false;
		sotto.mode = null;
		sotto.slots = null;
		sotto.participants = [];
		sotto.legEnded = 0;
		sotto.legEndedReason = null;
		resetMediaState();
		$('call-panel').hidden = false;
		setState('connecting');
		render();
		try {
			// Relay mode's TURN credentials come once "joined" says
			// which mode the room is in (fetchCredentials).
			try {
				c.stream = await navigator.mediaDevices.getUserMedia({ audio: audioConstraints() });
			} catch (e) {
				throw new Error(`no microphone (${e.name}: ${e.message})`);
			}
		} catch (e) {
			if (c !== call)
				return;
			showError(e.message);
			endCall(c, 'failed');
			return;
		}
		if (c !== call)
			return;
		openSocket(c);
		render();
	}

	// Relay mode: TURN credentials for the relay-only peer connection.
	// A failure ends the call (handle's caller shows it).
	async function fetchCredentials(c) {
		if (c.iceServers)
			return;
		const cred = await api('POST', '/v1/credentials', c.token);
		if (!Array.isArray(cred.iceServers) || cred.iceServers.length === 0)
			throw new Error('the server sent no iceServers');
		c.iceServers = cred.iceServers;
	}

	// ?audio=raw: the microphone without echo cancellation, noise
	// suppression and gain control, which treat a test's steady tone as
	// noise to remove.
	function audioConstraints() {
		if (params.get('audio') !== 'raw')
			return true;
		return { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
	}

	function endCall(c, state) {
		if (c.ended)
			return;
		c.ended = true;
		clearInterval(c.pingTimer);
		closePeerConnection(c);
		if (c.ws) {
			c.ws.onclose = null;
			c.ws.close();
			c.ws = null;
		}
		sotto.signaling = 'closed';
		if (c.stream) {
			for (const t of c.stream.getTracks())
				t.stop();
			c.stream = null;
		}
		setState(state);
		render();
	}

	function leave() {
		const c = call;
		if (!c || c.ended)
			return;
		send(c, { type: 'leave' });
		endCall(c, 'left');
	}

	function chosenMode() {
		return $('mode-gateway').checked ? 'gateway' : 'relay';
	}

	async function startCall() {
		$('start').disabled = true;
		clearError();
		$('call-panel').hidden = false;
		setState('starting');
		const mode = chosenMode();
		let room;
		let invite;
		try {
			// A gateway room's size is the server's default for groups.
			room = await api('POST', '/v1/rooms', null,
				mode === 'gateway' ? { mode: 'gateway' } : { max_participants: 2 });
			if (room.mode !== undefined && room.mode !== mode)
				throw new Error(`the server made a ${room.mode} room, not a ${mode} one`);
			if (typeof room.room !== 'string' || !/^[0-9a-f]{32}$/.test(room.room) ||
			    typeof room.token !== 'string')
				throw new Error('the server sent no room');
			invite = await api('POST', `/v1/rooms/${room.room}/invites`, room.token);
			if (typeof invite.token !== 'string')
				throw new Error('the server sent no invite token');
		} catch (e) {
			showError(`could not start a call: ${e.message}`);
			setState('error');
			$('start').disabled = false;
			return;
		}
		$('start-panel').hidden = true;
		sotto.inviteLink = `${location.origin}${location.pathname}#join=${invite.token}`;
		$('invite-link').value = sotto.inviteLink;
		$('invite-panel').hidden = false;
		note(`room ${room.room.slice(0, 8)} created`);
		await join(room.token, 'creator');
	}

	// --- wiring ---------------------------------------------------------

	function init() {
		$('start').addEventListener('click', () => startCall());
		const mode = params.get('mode');
		if (mode === 'gateway' || mode === 'relay')
			$(`mode-${mode}`).checked = true;
		$('copy').addEventListener('click', async () => {
			const input = $('invite-link');
			try {
				await navigator.clipboard.writeText(input.value);
				$('copy').textContent = 'Copied';
			} catch (e) {
				input.select();
				$('copy').textContent = 'Press Ctrl+C';
			}
		});
		$('mute').addEventListener('click', () => {
			if (!call || !call.stream)
				return;
			sotto.muted = !sotto.muted;
			for (const t of call.stream.getAudioTracks())
				t.enabled = !sotto.muted;
			note(sotto.muted ? 'muted' : 'unmuted');
			render();
		});
		$('leave').addEventListener('click', leave);
		$('rejoin').addEventListener('click', () => {
			if (call && call.ended && call.token)
				join(call.token, call.role);
		});
		window.addEventListener('pagehide', () => {
			if (call && !call.ended)
				send(call, { type: 'leave' });
		});
		// Pasting another invite link into this tab.
		window.addEventListener('hashchange', () => location.reload());
		setInterval(pollStats, STATS_INTERVAL_MS);

		const fragment = new URLSearchParams(location.hash.slice(1));
		const token = fragment.get('join');
		if (token) {
			// The token is a credential: keep it out of the history
			// and of anything that copies the address bar.
			history.replaceState(null, '', `${location.pathname}${location.search}`);
			join(token, 'member');
		} else {
			$('start-panel').hidden = false;
			if (params.get('autostart') === '1')
				startCall();
		}
		render();
	}

	init();
})();
