// SPDX-License-Identifier: BSD-3-Clause
//
// sotto's web client (docs/web-client.md is the user's side of it,
// docs/signaling.md the protocol): a 1:1 call in relay mode or a group
// call in gateway mode; the room's creator chooses, "joined" says which.
//
// Screens: start (the kind of call, in plain words) → the call; or, from
// an invite link ("#join=<token>"), a pre-join screen that says what kind
// of call it is (POST /v1/check) before the microphone is asked for.
// Refusals that cannot change (expired, used, full, locked, closed, a bad
// link) end on a screen without a retry.
//
// Relay mode: TURN credentials from sottod, one RTCPeerConnection to the
// other browser restricted to relay candidates; DTLS-SRTP end to end. The
// security code (both DTLS fingerprints hashed) is shown once the other
// person is there; "Codes match" records it for the call, and any later
// change of code (a rejoin, someone else in the seat) is flagged loudly.
//
// Gateway mode: one RTCPeerConnection to sotto itself (ICE-lite, a host
// candidate on its media address, no ICE servers): the microphone on a
// sendrecv transceiver and slots-1 recvonly ones; sotto sends the loudest
// other speakers on those slots, each played by its own <audio>. DTLS-SRTP
// ends at sotto (hop by hop): no security code, and the page says so.
// Names (optional), join/leave notices, speaking and muted states, and the
// creator's Lock and Remove.
//
// The token that brings this tab back into its call (the creator's, or
// the seat token "joined" gives someone who came with an invite) is kept
// in sessionStorage (this tab only, gone with it), never in localStorage.
//
// Everything a test needs is mirrored on window.sotto and refreshed from
// getStats() every 500 ms. Addresses are kept there for the tests; the
// page shows none.
//
// Query parameters (for tests and development):
//   ?autostart=1      press "Start the call" on load
//   ?mode=gateway     preselect the group call (or mode=relay)
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
	const NOTICES_MAX = 4;
	// Gateway mode: how many times a leg the gateway ended is offered
	// again before the call counts as failed.
	const LEG_RETRIES = 1;
	// After losing the server: tries to join again, this far apart (ms).
	const RECONNECT_DELAYS = [500, 1000, 2000, 3000, 3000, 4000];
	// Speaking: the microphone's level (0..1) above this, held this long.
	const SPEAKING_LEVEL = 0.02;
	const SPEAKING_HOLD_MS = 700;
	const STORE_KEY = 'sotto.call';
	const INVITE_KEY = 'sotto.invite';

	const $ = (id) => document.getElementById(id);
	const params = new URLSearchParams(location.search);

	// The test-visible state. Fields are null until known.
	const sotto = {
		screen: 'start',          // start | checking | prejoin | rejoin | problem | call
		state: 'idle',
		problem: null,            // the code of what stopped the call
		problemText: null,
		retryOffered: false,      // whether the page offers a retry now
		mode: null,               // 'relay' | 'gateway'
		slots: null,              // gateway: receive slots
		participants: [],         // the others' peer ids
		people: [],               // the others: {peer, role, name, label, muted, speaking}
		notices: [],
		role: null,
		room: null,
		peer: null,
		name: null,
		remotePeer: null,
		locked: false,
		inviteLink: null,
		inviteSingleUse: null,
		signaling: 'closed',
		reconnects: 0,
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
		micLevel: null,
		speaking: false,
		inbound: [],              // per inbound-rtp stream (gateway: per slot)
		remoteCandidates: [],     // every remote candidate getStats knows
		localFingerprint: null,
		remoteFingerprint: null,
		localSetup: null,
		remoteSetup: null,
		code: null,
		codeText: null,
		codeConfirmed: null,      // the code "Codes match" was pressed for
		codeChanged: false,       // the code changed since one was shown
		codesDiffered: false,
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
	// What the pre-join screen found out about an invite.
	let pending = null;
	// Labels for people without a name, in the order this page met them.
	const guestLabels = new Map();

	class ServerError extends Error {
		constructor(code, reason, status) {
			super(reason ? `${reason} (${code})` : code);
			this.code = code;
			this.reason = reason;
			this.status = status;
		}
	}

	function note(event) {
		sotto.history.push(`${((performance.now()) / 1000).toFixed(1)}s ${event}`);
		if (sotto.history.length > HISTORY_MAX)
			sotto.history.shift();
		console.log(`sotto: ${event}`);
	}

	// --- words ----------------------------------------------------------

	const KIND_TEXT = {
		'relay': 'A call between two people, encrypted end to end',
		'gateway': 'A group call, encrypted to and from the server',
	};
	const KIND_DETAIL = {
		'relay': 'Only you and the other person can hear it. The server passes the encrypted audio along without being able to decrypt it, and neither of you sees the other\u2019s address.',
		'gateway': 'The server decrypts the audio to choose who is heard and encrypts it again for each listener, so whoever runs the server could listen. The others do not see your address.',
	};
	// One line: what the server can and cannot see.
	const SEES_TEXT = {
		'relay': 'The server sees that this call happens, when, and each caller\u2019s IP address. It cannot hear the call.',
		'gateway': 'The server sees the audio, the names you give, when the call happens and each caller\u2019s IP address.',
	};
	const DTLS_VERSIONS = { 'FEFD': 'DTLS 1.2', 'FEFC': 'DTLS 1.3' };

	function statusText() {
		const gw = sotto.mode === 'gateway';
		switch (sotto.state) {
		case 'idle': return '';
		case 'checking': return 'Checking the invite\u2026';
		case 'prejoin': return '';
		case 'starting': return 'Setting up the call\u2026';
		case 'connecting': return 'Connecting\u2026';
		case 'waiting': return gw ? 'Connected. Nobody else is here yet.' :
			'Waiting for the other person to join.';
		case 'connected': return gw ? 'Connected to the group call.' : 'Connected.';
		case 'reconnecting': return 'The connection is unstable. Trying to keep the call going\u2026';
		case 'peer-left': return 'The other person left the call.';
		case 'server-lost': return call && call.reconnecting ?
			'Lost connection to the server. Trying to reconnect\u2026' :
			'Lost connection to the server.';
		case 'failed': return sotto.problemText || 'The call could not go on.';
		case 'ended': return sotto.problemText || 'Call ended.';
		case 'error': return sotto.problemText || 'Something went wrong.';
		default: return sotto.state;
		}
	}

	// Server and browser errors in the words a caller needs, and whether
	// trying again can ever help.
	function describeProblem(code, reason) {
		switch (code) {
		case 'expired':
			return ['This invite link has expired.', 'Ask the person who sent it for a new one.', false];
		case 'invite_used':
			return ['This invite link has already been used.', 'Each link lets one person in. Ask the person who sent it for a new one.', false];
		case 'room_full':
			return ['This call is full.', 'Nobody else can join it.', false];
		case 'room_locked':
			return ['This call is locked.', 'Its host is not letting anyone new in.', false];
		case 'invalid_token':
			if (reason === 'expired')
				return describeProblem('expired');
			return ['This link does not open a call.', 'The call may have ended, or the link is incomplete. Ask for a new one.', false];
		case 'bad_link':
			return ['This link does not open a call.', 'It is incomplete or damaged. Ask for a new one.', false];
		case 'room_closed':
			return ['The call has ended.', '', false];
		case 'gone':
			return ['The call has ended.', 'The server no longer has it (it may have restarted).', false];
		case 'kicked':
			return ['You were removed from the call by its host.', '', false];
		case 'replaced':
			return ['This call continues in another tab or window.', '', false];
		case 'left':
			return ['You left the call.', '', false];
		case 'codes_differ':
			return ['You hung up because the codes were different.', 'Someone may have been listening. Start a new call and send the link another way.', false];
		case 'wrong_kind':
			return ['This call is not the kind the invite said.', 'Nothing was sent. Ask for a new link.', false];
		case 'mic_blocked':
			return ['The microphone is blocked for this page.', 'Allow it in the browser (the icon in the address bar), then try again.', true];
		case 'mic_missing':
			return ['No microphone was found.', 'Connect one, then try again.', true];
		case 'mic_busy':
			return ['The microphone could not be started.', 'Another app may be using it. Close it, then try again.', true];
		case 'rate_limited':
			return ['Too many attempts from your network.', 'Wait a minute, then try again.', true];
		case 'unreachable':
			return ['The server cannot be reached.', 'Check your connection, then try again.', true];
		case 'unavailable':
			return ['The server cannot start a call right now.', 'Try again in a few minutes.', true];
		case 'sdp_rejected':
			return ['The server refused this browser\u2019s connection settings.', reason || '', true];
		case 'media_failed':
			return [reason || 'The audio connection was lost.', 'Rejoin to connect again.', true];
		default:
			return [reason || 'Something went wrong.', '', true];
		}
	}

	// --- display --------------------------------------------------------

	function setState(state) {
		if (sotto.state === state)
			return;
		sotto.state = state;
		note(`state ${state}`);
		render();
	}

	function showScreen(screen) {
		sotto.screen = screen;
		render();
	}

	function focusOn(id) {
		const el = $(id);
		if (!el)
			return;
		// After render: a hidden element cannot take focus.
		setTimeout(() => {
			if (!el.hidden && !el.disabled && el.offsetParent !== null)
				el.focus();
			else
				$('heading').focus();
		}, 0);
	}

	function addNotice(text) {
		sotto.notices.push(text);
		if (sotto.notices.length > NOTICES_MAX)
			sotto.notices.shift();
		note(`notice: ${text}`);
		const ul = $('notices');
		const li = document.createElement('li');
		li.textContent = text;
		ul.append(li);
		while (ul.children.length > NOTICES_MAX)
			ul.firstElementChild.remove();
	}

	function clearNotices() {
		sotto.notices = [];
		$('notices').replaceChildren();
	}

	function formatBytes(n) {
		if (n < 10000)
			return `${n} B`;
		if (n < 10000000)
			return `${(n / 1000).toFixed(1)} kB`;
		return `${(n / 1000000).toFixed(1)} MB`;
	}

	function labelOf(p) {
		if (p.name)
			return p.name;
		if (!guestLabels.has(p.peer))
			guestLabels.set(p.peer, `Guest ${guestLabels.size + 1}`);
		return guestLabels.get(p.peer);
	}

	function personItem(p, self) {
		const li = document.createElement('li');
		li.className = 'person';
		li.dataset.peer = p.peer || '';
		if (p.speaking && !p.muted)
			li.classList.add('speaking');
		const dot = document.createElement('span');
		dot.className = 'dot';
		dot.setAttribute('aria-hidden', 'true');
		const name = document.createElement('span');
		name.className = 'name';
		name.textContent = self ? (sotto.name ? `${sotto.name} (you)` : 'You') : p.label;
		li.append(dot, name);
		const badge = (text, cls) => {
			const b = document.createElement('span');
			b.className = `badge ${cls}`;
			b.textContent = text;
			li.append(b);
		};
		if (p.role === 'creator')
			badge('host', 'host');
		if (p.muted)
			badge('muted', 'muted');
		else if (p.speaking)
			badge('speaking', 'speaking-badge');
		if (!self && isCreator() && call && !call.ended) {
			const rm = document.createElement('button');
			rm.type = 'button';
			rm.className = 'remove';
			rm.textContent = 'Remove';
			rm.setAttribute('aria-label', `Remove ${p.label}`);
			rm.addEventListener('click', () => removePerson(p.peer));
			li.append(rm);
		}
		return li;
	}

	function renderPeople() {
		const show = sotto.mode === 'gateway' && sotto.screen === 'call' &&
			call !== null && !call.ended;
		$('people-panel').hidden = !show;
		if (!show)
			return;
		const n = sotto.people.length;
		$('people-title').textContent = n === 0 ? 'People in the call: just you' :
			`People in the call: you and ${n} other${n === 1 ? '' : 's'}`;
		const me = { peer: sotto.peer, role: sotto.role, muted: sotto.muted, speaking: sotto.speaking };
		const items = [personItem(me, true), ...sotto.people.map((p) => personItem(p, false))];
		// Rebuilt only when something shown changed, so focus on a
		// Remove button survives the stats refresh.
		const key = items.map((li) => li.textContent + li.className).join('\n');
		const ul = $('people');
		if (ul.dataset.key === key)
			return;
		const focused = document.activeElement && ul.contains(document.activeElement) ?
			document.activeElement.closest('li').dataset.peer : null;
		ul.dataset.key = key;
		ul.replaceChildren(...items);
		if (focused) {
			const again = [...ul.children].find((li) => li.dataset.peer === focused);
			const btn = again && again.querySelector('button');
			if (btn)
				btn.focus();
		}
	}

	function isCreator() {
		return sotto.role === 'creator';
	}

	function render() {
		const scr = sotto.screen;
		const inCall = call !== null && !call.ended;
		const gw = sotto.mode === 'gateway';
		const relay = sotto.mode === 'relay';

		const headings = {
			'start': 'Start a private call',
			'checking': 'Opening the invite',
			'prejoin': 'You are invited to a call',
			'rejoin': 'Your call in this tab',
			'problem': sotto.retryOffered ? 'The call could not start' : 'This link cannot be used',
			'call': inCall ? (gw ? 'Group call' : 'Call') : 'Call ended',
		};
		$('heading').textContent = headings[scr] || 'Private call';
		document.title = scr === 'call' && inCall ? 'In a call \u2013 sotto' : 'sotto call';

		$('start-panel').hidden = scr !== 'start';
		$('group-options').hidden = chosenMode() !== 'gateway';
		$('start-sees').textContent = SEES_TEXT[chosenMode()];
		$('prejoin-panel').hidden = !(scr === 'prejoin' || scr === 'rejoin');
		$('problem-panel').hidden = scr !== 'problem';
		$('problem-text').textContent = sotto.problemText || '';
		$('problem-next').textContent = (call && call.problemNext) || sotto.problemNext || '';

		// Always in the page (a live region that comes and goes is not
		// announced); empty when there is nothing to say.
		const st = $('status');
		const text = scr === 'call' || scr === 'checking' ? statusText() : '';
		if (st.textContent !== text)
			st.textContent = text;
		st.className = `status ${sotto.state}`;

		// The invite: while the creator waits, never once connected.
		const showInvite = scr === 'call' && inCall && sotto.inviteLink !== null &&
			isCreator() && call.inviteOpen && sotto.state !== 'server-lost';
		$('invite-panel').hidden = !showInvite;
		if (showInvite) {
			$('invite-link').value = sotto.inviteLink;
			$('invite-text').textContent = gw ?
				(sotto.inviteSingleUse ? 'Send this link to one person. It lets one person in; make a new one for each.' :
					'Send this link to the people you want in the call. Anyone who has it can join until you lock the room.') :
				'Send this link to the person you want to talk to. It works once: the first person who opens it joins, then the call locks itself.';
			$('invite-note').textContent = 'Send it in a way only they can read. Anyone who opens it first takes the place.';
		}

		// The security code, relay calls only, once both ends are there.
		const showCode = scr === 'call' && relay && sotto.code !== null &&
			(inCall || sotto.codesDiffered);
		$('verify-panel').hidden = !showCode;
		if (showCode) {
			$('code').textContent = sotto.codeText;
			const confirmed = sotto.codeConfirmed === sotto.code;
			$('verified').hidden = !confirmed;
			$('verify-actions').hidden = confirmed || !inCall;
			$('verify-text').hidden = confirmed;
			const alert = $('code-alert');
			alert.hidden = !sotto.codeChanged || !inCall;
			const want = 'The security code changed. This happens when the other person rejoins, or when someone else has taken their place. Compare the new code aloud before you say anything private.';
			if (sotto.codeChanged && alert.textContent !== want)
				alert.textContent = want;
			$('verify-panel').classList.toggle('changed', sotto.codeChanged && inCall);
		}
		$('gateway-notice').hidden = !(scr === 'call' && gw && inCall);
		renderPeople();
		$('notices').hidden = scr !== 'call' || sotto.notices.length === 0;
		$('call-sees').hidden = !(scr === 'call' && inCall && sotto.mode);
		$('call-sees').textContent = SEES_TEXT[sotto.mode] || '';

		// Technical details, collapsed; no address of anyone.
		$('details').hidden = !(scr === 'call' && sotto.room);
		$('room').textContent = sotto.room ? sotto.room.slice(0, 8) : '\u2013';
		$('mode').textContent = sotto.mode === 'relay' ? '1:1, end to end, relayed' :
			gw ? 'group, through the server (hop by hop)' : '\u2013';
		$('role').textContent = sotto.role === 'creator' ? 'the host (you started it)' :
			sotto.role === 'member' ? 'a guest' : '\u2013';
		if (sotto.localCandidateType)
			$('path').textContent = gw ? `your browser (${sotto.localCandidateType}) \u21c4 server (${sotto.remoteCandidateType})` :
				`${sotto.localCandidateType} \u21c4 ${sotto.remoteCandidateType}, through the server`;
		else
			$('path').textContent = sotto.iceState ? `ICE ${sotto.iceState}` : '\u2013';
		$('dtls').textContent = sotto.dtlsState ?
			[sotto.dtlsState, DTLS_VERSIONS[sotto.tlsVersion] || sotto.tlsVersion, sotto.dtlsCipher]
				.filter(Boolean).join(', ') : '\u2013';
		$('srtp').textContent = sotto.srtpCipher || '\u2013';
		$('received').textContent = sotto.packetsReceived ?
			`${formatBytes(sotto.bytesReceived)} (${sotto.packetsReceived} packets)` : '\u2013';
		$('slots-label').hidden = !gw;
		$('slots').hidden = !gw;
		if (gw) {
			const busy = sotto.inbound.filter((s) => s.packetsReceived > 0).length;
			$('slots').textContent = sotto.slots ? `${sotto.slots} (${busy} receiving audio)` : '\u2013';
		}

		// The control bar: only what can work now.
		$('controls').hidden = !(scr === 'call' || scr === 'problem');
		$('mute').hidden = !inCall;
		$('mute').setAttribute('aria-pressed', sotto.muted ? 'true' : 'false');
		$('muted-badge').hidden = !(inCall && sotto.muted);
		$('leave').hidden = !inCall;
		$('lock').hidden = !(inCall && gw && isCreator());
		$('lock').setAttribute('aria-pressed', sotto.locked ? 'true' : 'false');
		$('lock').textContent = sotto.locked ? 'Room locked' : 'Lock room';
		$('invite-more').hidden = !(inCall && isCreator() &&
			(gw ? !call.inviteOpen || sotto.inviteSingleUse : sotto.state === 'peer-left'));
		$('invite-more').textContent = relay ? 'Invite someone else' :
			(call && call.inviteOpen && sotto.inviteSingleUse ? 'New invite link' : 'Invite someone');
		const canRejoin = call !== null && call.ended && call.canRejoin && stored() !== null;
		$('rejoin').hidden = !(scr === 'call' && (canRejoin ||
			(inCall && (sotto.state === 'failed' || (sotto.state === 'server-lost' && !call.reconnecting)))));
		sotto.retryOffered = scr === 'problem' ? sotto.retryOffered : !$('rejoin').hidden;
		$('new-call').hidden = !((scr === 'call' && !inCall) || scr === 'problem');
		$('new-call').textContent = scr === 'problem' && sotto.retryOffered ? 'Try again' : 'Start a new call';
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
			throw new ServerError('unreachable', e.message, 0);
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
			throw new ServerError(res.status >= 500 ? 'unavailable' : `http_${res.status}`,
				res.statusText, res.status);
		}
		if (data === null || typeof data !== 'object')
			throw new ServerError('unavailable', 'the server\u2019s answer is not JSON', res.status);
		return data;
	}

	// A token's claims, for display and early checks only: the server
	// checks the signature.
	function tokenClaims(token) {
		if (typeof token !== 'string')
			return null;
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

	// --- this tab's call, across reloads ----------------------------------

	function store(rec) {
		try {
			sessionStorage.setItem(STORE_KEY, JSON.stringify(rec));
		} catch (e) {
			note(`sessionStorage: ${e.message}`);
		}
	}

	function stored() {
		try {
			const rec = JSON.parse(sessionStorage.getItem(STORE_KEY) || 'null');
			if (rec && typeof rec.token === 'string' && tokenClaims(rec.token))
				return rec;
		} catch (e) {
			// nothing usable
		}
		return null;
	}

	function forget() {
		try {
			sessionStorage.removeItem(STORE_KEY);
			sessionStorage.removeItem(INVITE_KEY);
		} catch (e) {
			// nothing to do
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
			failCall(c, 'media_failed', 'The connection cannot be verified: the two ends did not each send one certificate fingerprint.');
			return;
		}
		const code = await verificationCode(local, remote);
		if (c !== call || pc !== c.pc)
			return;
		sotto.localFingerprint = local;
		sotto.remoteFingerprint = remote;
		sotto.localSetup = sdpSetup(pc.localDescription.sdp);
		sotto.remoteSetup = sdpSetup(pc.remoteDescription.sdp);
		const wasShown = c.lastCode !== null && c.lastCode !== code;
		sotto.code = code;
		sotto.codeText = `${code.slice(0, 3)} ${code.slice(3)}`;
		if (wasShown) {
			// A rejoin or someone else in the seat: whatever was
			// compared before does not hold for this code.
			sotto.codeChanged = true;
			sotto.codeConfirmed = null;
			note(`code changed from ${c.lastCode} to ${code}`);
		}
		c.lastCode = code;
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
		if (override && loopbackOrigin() && /^wss?:\/\//.test(override))
			return override;
		if (override)
			note(`ignoring ?ws=${override}`);
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
		c.joinedThisSocket = false;
		sotto.signaling = 'connecting';
		ws.onopen = () => {
			if (c !== call || c.ws !== ws)
				return;
			sotto.signaling = 'open';
			note('signaling open');
			const join = { type: 'join', token: c.token };
			if (c.name)
				join.name = c.name;
			send(c, join);
			clearInterval(c.pingTimer);
			c.pingTimer = setInterval(() => send(c, { type: 'ping' }), PING_INTERVAL_MS);
		};
		ws.onmessage = (ev) => {
			if (c !== call || c.ws !== ws)
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
				note(`${msg.type}: ${e.message}`);
				failCall(c, 'media_failed', `The call could not be set up (${e.message}).`);
			});
		};
		ws.onclose = (ev) => {
			if (c !== call || c.ws !== ws)
				return;
			sotto.signaling = 'closed';
			clearInterval(c.pingTimer);
			note(`signaling closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`);
			c.ws = null;
			if (c.ended)
				return;
			serverLost(c);
		};
	}

	// The connection to the server is gone without a word from it: say
	// so (not "the other person"), and try to come back with this tab's
	// token. The call's audio may still flow for a moment; it is set up
	// again once the server answers.
	function serverLost(c) {
		if (c.ended)
			return;
		if (sotto.state !== 'server-lost') {
			c.reconnectTry = 0;
			closePeerConnection(c);
			resetMediaState();
			sotto.people = [];
			sotto.participants = [];
			c.remotePeer = sotto.remotePeer = null;
			setState('server-lost');
			addNotice('Lost connection to the server.');
		}
		scheduleReconnect(c);
	}

	function scheduleReconnect(c) {
		clearTimeout(c.reconnectTimer);
		c.reconnectTimer = null;
		if (c.reconnectTry >= RECONNECT_DELAYS.length) {
			note('giving up reconnecting');
			c.reconnecting = false;
			render();
			focusOn('rejoin');
			return;
		}
		c.reconnecting = true;
		const delay = RECONNECT_DELAYS[c.reconnectTry++];
		c.reconnectTimer = setTimeout(() => {
			c.reconnectTimer = null;
			if (c !== call || c.ended)
				return;
			sotto.reconnects += 1;
			note(`reconnecting (try ${c.reconnectTry})`);
			// If it does not open, onclose comes back to serverLost.
			openSocket(c);
		}, delay);
		render();
	}

	async function handle(c, msg) {
		if (c !== call || c.ended)
			return;
		switch (msg.type) {
		case 'joined':
			await onJoined(c, msg);
			break;
		case 'peer-joined': {
			const p = addPerson(msg);
			note(`peer ${msg.peer} joined`);
			if (c.mode === 'gateway') {
				addNotice(`${p.label} joined.`);
				// Someone came: the link goes out of sight; "Invite
				// someone" brings one back.
				c.inviteOpen = false;
				// The newcomer learns who is speaking now.
				if (sotto.speaking)
					send(c, { type: 'status', speaking: true });
				render();
				break;
			}
			// The link has done its job: out of sight.
			c.inviteOpen = false;
			if (!c.remotePeer) {
				c.remotePeer = sotto.remotePeer = msg.peer;
				setState('connecting');
			}
			if (isCreator() && sotto.state !== 'connected' && c.autoLock)
				sotto.locked = true;
			break;
		}
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
				note(`ignoring a candidate from ${msg.from}`);
				break;
			}
			if (msg.from !== c.remotePeer || !c.pc) {
				note(`ignoring a candidate from ${msg.from}`);
				break;
			}
			try {
				if (msg.candidate === null || msg.candidate === undefined)
					await c.pc.addIceCandidate();
				else
					await c.pc.addIceCandidate(msg.candidate);
			} catch (e) {
				// One unusable candidate does not end the call.
				note(`candidate refused: ${e.message}`);
			}
			break;
		case 'peer-left': {
			note(`peer ${msg.peer} left`);
			const p = sotto.people.find((x) => x.peer === msg.peer);
			removePersonLocal(msg.peer);
			if (c.mode === 'gateway') {
				if (p)
					addNotice(c.removing === msg.peer ? `${p.label} was removed.` : `${p.label} left.`);
				render();
				break;
			}
			if (msg.peer === c.remotePeer) {
				closePeerConnection(c);
				c.remotePeer = sotto.remotePeer = null;
				resetMediaState();
				setState('peer-left');
				addNotice('The other person left the call.');
				focusOn(isCreator() ? 'invite-more' : 'leave');
			}
			break;
		}
		case 'status': {
			const p = sotto.people.find((x) => x.peer === msg.from);
			if (!p)
				break;
			if (typeof msg.muted === 'boolean')
				p.muted = msg.muted;
			if (typeof msg.speaking === 'boolean')
				p.speaking = msg.speaking;
			render();
			break;
		}
		case 'join-refused': {
			const n = Number.isInteger(msg.count) && msg.count > 1 ? `${msg.count} times` : 'once';
			const what = c.mode === 'relay' ?
				`Someone else tried to join (${n}) and was kept out: this call stays between the two of you.` :
				msg.reason === 'room_locked' ? `Someone tried to join (${n}) and was kept out: the room is locked.` :
					msg.reason === 'room_full' ? `Someone tried to join (${n}) and was kept out: the call is full.` :
						`Someone tried to join with a link that was already used (${n}) and was kept out.`;
			addNotice(what);
			render();
			break;
		}
		case 'gateway-leg-ended': {
			if (c.mode !== 'gateway')
				break;
			sotto.legEnded += 1;
			sotto.legEndedReason = typeof msg.reason === 'string' ? msg.reason : null;
			if (c.legRetries < LEG_RETRIES) {
				c.legRetries += 1;
				addNotice('The audio connection to the server dropped. Connecting it again\u2026');
				setState('connecting');
				await gatewayOffer(c);
			} else {
				failCall(c, 'media_failed', 'The audio connection to the server dropped again.');
			}
			break;
		}
		case 'pong':
			break;
		case 'error':
			onServerError(c, msg);
			break;
		default:
			note(`ignoring message type ${msg.type}`);
		}
	}

	function onServerError(c, msg) {
		const code = String(msg.error);
		note(`server error ${code}: ${msg.reason || ''} [${msg.ref || ''}]`);
		if (msg.ref === 'join' && code === 'rate_limited') {
			// Joining again later can work: the reconnect loop does.
			c.ws && c.ws.close();
			return;
		}
		if (msg.ref === 'join' && code === 'invalid_token' && c.joinedOnce) {
			// Our own token no longer opens the room: it is gone.
			endCall(c, 'ended', 'gone');
			return;
		}
		if (msg.ref === 'join' && !c.joinedOnce) {
			// The pre-join check passed a moment ago; this is final.
			endCall(c, 'ended', code, msg.reason);
			showProblem(code, msg.reason);
			return;
		}
		switch (code) {
		case 'kicked':
		case 'room_closed':
		case 'replaced':
		case 'invalid_token':
			endCall(c, 'ended', code === 'invalid_token' ? 'gone' : code);
			return;
		case 'sdp_rejected':
			failCall(c, 'sdp_rejected', msg.reason);
			return;
		default:
			note(`server: ${msg.reason || code}`);
		}
	}

	function addPerson(info) {
		if (typeof info.peer !== 'string')
			return { label: 'Someone' };
		let p = sotto.people.find((x) => x.peer === info.peer);
		if (!p) {
			p = { peer: info.peer, role: 'member', name: null, label: null, muted: false, speaking: false };
			sotto.people.push(p);
		}
		if (info.role === 'creator' || info.role === 'member')
			p.role = info.role;
		if (typeof info.name === 'string' && info.name.length > 0)
			p.name = info.name.slice(0, 64);
		if (typeof info.muted === 'boolean')
			p.muted = info.muted;
		p.label = labelOf(p);
		sotto.participants = sotto.people.map((x) => x.peer);
		return p;
	}

	function removePersonLocal(peer) {
		sotto.people = sotto.people.filter((x) => x.peer !== peer);
		sotto.participants = sotto.people.map((x) => x.peer);
	}

	async function onJoined(c, msg) {
		const first = !c.joinedOnce;
		c.joinedOnce = true;
		c.joinedThisSocket = true;
		clearTimeout(c.reconnectTimer);
		c.reconnectTimer = null;
		c.reconnectTry = 0;
		c.reconnecting = false;
		sotto.peer = msg.peer || null;
		if (msg.role)
			sotto.role = msg.role;
		const mode = msg.mode === 'gateway' ? 'gateway' : 'relay';
		if (c.expectMode && mode !== c.expectMode) {
			// The pre-join screen said otherwise: stop before any
			// audio is sent.
			endCall(c, 'ended', 'wrong_kind');
			showProblem('wrong_kind');
			return;
		}
		c.mode = sotto.mode = mode;
		c.autoLock = msg.auto_lock === true;
		sotto.locked = msg.locked === true;
		if (typeof msg.seat === 'string' && tokenClaims(msg.seat)) {
			// From now on this tab comes back with its own seat;
			// the invite is spent.
			c.token = msg.seat;
			try {
				sessionStorage.removeItem(INVITE_KEY);
			} catch (e) {
				// nothing to do
			}
		}
		store({ token: c.token, role: sotto.role, room: sotto.room, mode, name: c.name || null });
		c.canRejoin = true;
		sotto.people = [];
		sotto.participants = [];
		const infos = Array.isArray(msg.participants) ? msg.participants :
			(Array.isArray(msg.peers) ? msg.peers.map((peer) => ({ peer })) : []);
		for (const info of infos)
			addPerson(info);
		note(`joined as ${sotto.peer} (${sotto.role}), ${mode} mode, ${infos.length} already here`);
		if (!first)
			addNotice('Connected to the server again.');
		if (sotto.muted)
			send(c, { type: 'status', muted: true });
		if (mode === 'gateway') {
			if (!Number.isInteger(msg.slots) || msg.slots < 1 || msg.slots > 16)
				throw new Error(`the server named no usable number of slots (${msg.slots})`);
			c.slots = sotto.slots = msg.slots;
			setState('connecting');
			await gatewayOffer(c);
			return;
		}
		await fetchCredentials(c);
		if (sotto.people.length > 0) {
			// The second to join offers.
			c.remotePeer = sotto.remotePeer = sotto.people[0].peer;
			setState('connecting');
			await makeOffer(c);
		} else {
			setState('waiting');
			focusOn(isCreator() && sotto.inviteLink ? 'copy' : 'leave');
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
				note(`ICE candidate error ${ev.errorCode} ${ev.errorText || ''}`);
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
			// Without the server, its word on the call is what counts.
			if (sotto.state === 'server-lost')
				return;
			switch (pc.connectionState) {
			case 'connected':
				if (sotto.state !== 'connected') {
					setState('connected');
					focusOn(c.mode === 'relay' && sotto.codeConfirmed !== sotto.code ? 'codes-match' : 'mute');
				}
				break;
			case 'disconnected':
				setState('reconnecting');
				break;
			case 'failed': {
				let why;
				if (c.mode === 'gateway')
					why = sotto.dtlsEverConnected ? 'The audio connection to the server was lost.' :
						sotto.iceEverConnected ? 'The encrypted connection to the server could not be set up.' :
							'No network path to the server\u2019s audio address.';
				else if (sotto.dtlsEverConnected)
					why = 'The audio connection to the other person was lost.';
				else if (sotto.iceEverConnected)
					why = 'The encrypted connection could not be set up: the other side\u2019s certificate is not the one the server passed on. Do not trust this call.';
				else
					why = 'No path through the server to the other person.';
				failCall(c, 'media_failed', why);
				break;
			}
			default:
				break;
			}
		};
	}

	// Gateway mode: the one connection, to sotto. No ICE servers: sotto
	// answers with a host candidate on its media address (ICE-lite), and
	// the browser pairs its own host candidates with it; nobody else's
	// address is ever seen.
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
		send(c, { type: 'offer', to: 'gateway', sdp: pc.localDescription.sdp });
		note(`offer sent to the gateway (${c.slots} slots)`);
	}

	// Gateway mode: the fingerprints are kept for the record, but they
	// make no security code (the other end is the server).
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
		let source = null;
		const pairs = [];
		const remotes = [];
		report.forEach((s) => {
			if (s.type === 'transport' && (!transport || s.selectedCandidatePairId))
				transport = s;
			else if (s.type === 'inbound-rtp' && s.kind === 'audio')
				inbound.push(s);
			else if (s.type === 'outbound-rtp' && s.kind === 'audio')
				outbound = s;
			else if (s.type === 'media-source' && s.kind === 'audio')
				source = s;
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
		sotto.micLevel = source && typeof source.audioLevel === 'number' ? source.audioLevel : null;
		updateSpeaking(c);
		sotto.statsAt = Date.now();
		render();
	}

	// Speaking, from this page's own microphone level; in a group call the
	// others are told (the server ranks speakers by level anyway).
	function updateSpeaking(c) {
		const now = performance.now();
		if (!sotto.muted && sotto.micLevel !== null && sotto.micLevel > SPEAKING_LEVEL)
			c.spokeAt = now;
		const speaking = !sotto.muted && c.spokeAt !== null && now - c.spokeAt < SPEAKING_HOLD_MS;
		if (speaking === sotto.speaking)
			return;
		sotto.speaking = speaking;
		if (c.mode === 'gateway')
			send(c, { type: 'status', speaking });
	}

	// --- call lifecycle -------------------------------------------------

	function newCall(token, role, opts) {
		const c = {
			token,
			role,
			name: opts.name || null,
			expectMode: opts.expectMode || null,
			ws: null,
			pc: null,
			// a start asks for the microphone before making the room
			stream: opts.stream || null,
			iceServers: null,
			remotePeer: null,
			chain: Promise.resolve(),
			pingTimer: null,
			reconnectTimer: null,
			reconnectTry: 0,
			reconnecting: false,
			dtlsWatched: null,
			ended: false,
			joinedOnce: false,
			joinedThisSocket: false,
			canRejoin: false,
			mode: null,
			slots: null,
			legRetries: 0,
			lastCode: opts.lastCode || null,
			spokeAt: null,
			autoLock: false,
			inviteOpen: false,
			removing: null,
			problemNext: null,
		};
		return c;
	}

	// Joins with token; the microphone is asked for here, after a click.
	async function join(token, role, opts) {
		const claims = tokenClaims(token);
		if (!claims) {
			showProblem('bad_link');
			return;
		}
		const c = newCall(token, role, opts || {});
		call = c;
		sotto.role = role;
		sotto.room = claims.room;
		sotto.peer = null;
		sotto.remotePeer = null;
		sotto.name = c.name;
		sotto.mode = c.expectMode;
		sotto.slots = null;
		sotto.people = [];
		sotto.participants = [];
		sotto.legEnded = 0;
		sotto.legEndedReason = null;
		sotto.problem = null;
		sotto.problemText = null;
		sotto.codeChanged = false;
		sotto.codeConfirmed = null;
		sotto.codesDiffered = false;
		sotto.lastError = null;
		resetMediaState();
		clearNotices();
		showScreen('call');
		setState('connecting');
		if (!c.stream) {
			const problem = await getMicrophone(c);
			if (c !== call)
				return;
			if (problem) {
				c.ended = true;
				showProblem(problem, null, () => join(token, role, opts));
				return;
			}
		}
		if (sotto.muted)
			for (const t of c.stream.getAudioTracks())
				t.enabled = false;
		openSocket(c);
		render();
	}

	async function getMicrophone(c) {
		try {
			c.stream = await navigator.mediaDevices.getUserMedia({ audio: audioConstraints() });
			return null;
		} catch (e) {
			note(`microphone: ${e.name}: ${e.message}`);
			if (e.name === 'NotAllowedError' || e.name === 'SecurityError')
				return 'mic_blocked';
			if (e.name === 'NotFoundError' || e.name === 'OverconstrainedError')
				return 'mic_missing';
			return 'mic_busy';
		}
	}

	// Relay mode: TURN credentials for the relay-only peer connection.
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

	function stopMedia(c) {
		clearInterval(c.pingTimer);
		clearTimeout(c.reconnectTimer);
		c.reconnectTimer = null;
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
	}

	// The call is over: why, and what can be done next. Nothing of it
	// (code, people, counters) stays on screen as if it went on.
	function endCall(c, state, problem, reason) {
		if (c.ended)
			return;
		c.ended = true;
		stopMedia(c);
		const permanent = ['room_closed', 'gone', 'kicked', 'replaced', 'wrong_kind',
			'invalid_token', 'expired', 'invite_used', 'room_full', 'room_locked', 'bad_link'];
		if (permanent.includes(problem) || problem === 'codes_differ') {
			c.canRejoin = false;
			forget();
		}
		const [text, next] = describeProblem(problem, reason);
		sotto.problem = problem;
		sotto.problemText = text;
		c.problemNext = next;
		sotto.people = [];
		sotto.participants = [];
		sotto.speaking = false;
		if (problem !== 'codes_differ') {
			resetMediaState();
			sotto.codeChanged = false;
		}
		setState(state);
		addNotice(text);
		render();
		focusOn(!$('rejoin').hidden ? 'rejoin' : 'new-call');
	}

	// The call cannot go on as it is, but rejoining may work: the page
	// stays in the call screen with "Rejoin".
	function failCall(c, problem, reason) {
		if (c.ended)
			return;
		const [text] = describeProblem(problem, reason);
		sotto.problem = problem;
		sotto.problemText = text;
		sotto.lastError = text;
		// The connection stays as it ended (its code too: after a
		// failed handshake, two different codes say why); Rejoin
		// starts over.
		setState('failed');
		addNotice(text);
		focusOn('rejoin');
	}

	// A screen of its own for what stops the call before it starts.
	function showProblem(code, reason, retry) {
		const [text, next, temporary] = describeProblem(code, reason);
		sotto.problem = code;
		sotto.problemText = text;
		sotto.problemNext = next;
		sotto.lastError = text;
		sotto.retryOffered = Boolean(temporary && retry);
		problemRetry = sotto.retryOffered ? retry : null;
		if (!temporary)
			forget();
		note(`problem ${code}: ${text}`);
		showScreen('problem');
		setState('error');
		focusOn('new-call');
	}
	let problemRetry = null;

	function leave() {
		const c = call;
		if (!c || c.ended)
			return;
		send(c, { type: 'leave' });
		endCall(c, 'ended', 'left');
	}

	function chosenMode() {
		return $('mode-gateway').checked ? 'gateway' : 'relay';
	}

	function cleanName(s) {
		// What the server accepts: visible text, at most 64 bytes.
		const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g, '')
			.trim().slice(0, 32);
		return t.length > 0 && new TextEncoder().encode(t).length <= 64 ? t : null;
	}

	async function startCall() {
		$('start').disabled = true;
		const mode = chosenMode();
		const name = mode === 'gateway' ? cleanName($('start-name').value) : null;
		const reusable = mode === 'gateway' && $('reusable').checked;
		sotto.mode = mode;
		sotto.screen = 'call';
		setState('starting');
		// The microphone first: no room is made for a call that cannot
		// have one.
		const probe = newCall(null, 'creator', {});
		const problem = await getMicrophone(probe);
		if (problem) {
			$('start').disabled = false;
			showProblem(problem, null, () => { showScreen('start'); setState('idle'); });
			return;
		}
		let room;
		try {
			room = await api('POST', '/v1/rooms', null,
				mode === 'gateway' ? { mode: 'gateway' } : { max_participants: 2, auto_lock: true });
			if (room.mode !== undefined && room.mode !== mode)
				throw new ServerError('unavailable', `the server made a ${room.mode} room`, 0);
			if (typeof room.room !== 'string' || !/^[0-9a-f]{32}$/.test(room.room) ||
			    typeof room.token !== 'string')
				throw new ServerError('unavailable', 'the server sent no room', 0);
			await makeInvite(room.room, room.token, !reusable);
		} catch (e) {
			for (const t of probe.stream.getTracks())
				t.stop();
			$('start').disabled = false;
			showProblem(e.code || 'unavailable', e.reason || e.message,
				() => { showScreen('start'); setState('idle'); });
			return;
		}
		$('start').disabled = false;
		note(`room ${room.room.slice(0, 8)} created`);
		store({ token: room.token, role: 'creator', room: room.room, mode, name });
		await join(room.token, 'creator', { name, expectMode: mode, stream: probe.stream });
		if (call) {
			call.inviteOpen = true;
			render();
		}
		focusOn('copy');
	}

	// A new invite link (single-use unless the creator chose one link
	// for everyone); shown in the invite panel.
	async function makeInvite(room, token, singleUse) {
		const invite = await api('POST', `/v1/rooms/${room}/invites`, token, { single_use: singleUse });
		if (typeof invite.token !== 'string')
			throw new ServerError('unavailable', 'the server sent no invite', 0);
		sotto.inviteLink = `${location.origin}${location.pathname}#join=${invite.token}`;
		sotto.inviteSingleUse = invite.single_use !== false;
		$('copy').textContent = 'Copy link';
		return invite;
	}

	// Creator: another invite (a group's next person, or someone else
	// after the other person left a 1:1 call, which unlocks it).
	async function inviteMore() {
		const c = call;
		if (!c || c.ended || !isCreator())
			return;
		try {
			if (c.mode === 'relay' && sotto.locked) {
				await api('POST', `/v1/rooms/${sotto.room}/lock`, c.token, { locked: false });
				sotto.locked = false;
			}
			await makeInvite(sotto.room, c.token, c.mode === 'relay' || sotto.inviteSingleUse !== false);
			c.inviteOpen = true;
			if (c.mode === 'relay')
				setState('waiting');
			render();
			focusOn('copy');
		} catch (e) {
			addNotice(`No new invite: ${describeProblem(e.code, e.reason)[0]}`);
		}
	}

	async function toggleLock() {
		const c = call;
		if (!c || c.ended || !isCreator())
			return;
		const want = !sotto.locked;
		try {
			const res = await api('POST', `/v1/rooms/${sotto.room}/lock`, c.token, { locked: want });
			sotto.locked = res.locked === true;
			addNotice(sotto.locked ? 'The room is locked: nobody new can join.' :
				'The room is open again: anyone with a valid link can join.');
			if (sotto.locked)
				c.inviteOpen = false;
		} catch (e) {
			addNotice(`The room could not be ${want ? 'locked' : 'opened'}: ${describeProblem(e.code, e.reason)[0]}`);
		}
		render();
	}

	async function removePerson(peer) {
		const c = call;
		const p = sotto.people.find((x) => x.peer === peer);
		if (!c || c.ended || !isCreator() || !p)
			return;
		c.removing = peer;
		try {
			await api('POST', `/v1/rooms/${sotto.room}/kick`, c.token, { peer });
			if (!sotto.inviteSingleUse)
				addNotice('The link they came with no longer works. Use \u201cInvite someone\u201d for a new one.');
			c.inviteOpen = false;
		} catch (e) {
			addNotice(`${p.label} could not be removed: ${describeProblem(e.code, e.reason)[0]}`);
		}
		render();
		focusOn('mute');
	}

	// --- opening a link ---------------------------------------------------

	async function openInvite(token) {
		pending = { token };
		const claims = tokenClaims(token);
		if (!claims) {
			showProblem('bad_link');
			return;
		}
		if (Number.isInteger(claims.exp) && claims.exp * 1000 < Date.now()) {
			showProblem('expired');
			return;
		}
		sotto.room = claims.room;
		showScreen('checking');
		setState('checking');
		let info;
		try {
			info = await api('POST', '/v1/check', token);
		} catch (e) {
			const code = e.code || 'unreachable';
			showProblem(code, e.reason, () => openInvite(token));
			return;
		}
		const mode = info.mode === 'gateway' ? 'gateway' : 'relay';
		pending.mode = mode;
		sotto.mode = mode;
		$('prejoin-kind').textContent = `${KIND_TEXT[mode]}.`;
		const n = Number.isInteger(info.participants) ? info.participants : 0;
		$('prejoin-detail').textContent = KIND_DETAIL[mode] + ' ' + (mode === 'relay' ?
			(n > 0 ? 'The other person is waiting for you.' : 'The other person is not there yet.') :
			(n === 0 ? 'Nobody is in the call yet.' : `${n} ${n === 1 ? 'person is' : 'people are'} in the call.`));
		$('prejoin-sees').textContent = SEES_TEXT[mode];
		$('prejoin-name-row').hidden = mode !== 'gateway';
		$('join').textContent = 'Join with microphone';
		$('forget').hidden = true;
		showScreen('prejoin');
		setState('prejoin');
		focusOn(mode === 'gateway' ? 'join-name' : 'join');
	}

	function offerRejoin(rec) {
		pending = { token: rec.token, role: rec.role, mode: rec.mode, name: rec.name, rejoin: true };
		sotto.room = rec.room || null;
		sotto.mode = rec.mode || null;
		$('prejoin-kind').textContent = 'You were in a call in this tab.';
		$('prejoin-detail').textContent = rec.mode ? `${KIND_TEXT[rec.mode]}.` : '';
		$('prejoin-sees').textContent = SEES_TEXT[rec.mode] || '';
		$('prejoin-name-row').hidden = true;
		$('join').textContent = 'Rejoin with microphone';
		$('forget').hidden = false;
		showScreen('rejoin');
		setState('prejoin');
		focusOn('join');
	}

	function joinPending() {
		if (!pending)
			return;
		const p = pending;
		pending = null;
		if (p.rejoin) {
			join(p.token, p.role === 'creator' ? 'creator' : 'member',
				{ name: p.name, expectMode: p.mode });
			return;
		}
		const name = p.mode === 'gateway' ? cleanName($('join-name').value) : null;
		join(p.token, 'member', { name, expectMode: p.mode });
	}

	function startOver() {
		if (call && !call.ended)
			return;
		forget();
		// A fresh page: nothing of this call stays in memory or on screen.
		location.replace(`${location.pathname}${params.get('ws') ? `?ws=${encodeURIComponent(params.get('ws'))}` : ''}`);
	}

	// --- wiring ---------------------------------------------------------

	function init() {
		$('start').addEventListener('click', () => startCall());
		for (const id of ['mode-relay', 'mode-gateway'])
			$(id).addEventListener('change', () => render());
		const mode = params.get('mode');
		if (mode === 'gateway' || mode === 'relay')
			$(`mode-${mode}`).checked = true;
		$('copy').addEventListener('click', async () => {
			const input = $('invite-link');
			try {
				await navigator.clipboard.writeText(input.value);
				$('copy').textContent = 'Copied';
			} catch (e) {
				input.focus();
				input.select();
				$('copy').textContent = 'Press Ctrl+C';
			}
		});
		$('mute').addEventListener('click', () => {
			sotto.muted = !sotto.muted;
			if (call && call.stream)
				for (const t of call.stream.getAudioTracks())
					t.enabled = !sotto.muted;
			if (call && !call.ended) {
				send(call, { type: 'status', muted: sotto.muted });
				if (sotto.muted && sotto.speaking) {
					sotto.speaking = false;
					if (call.mode === 'gateway')
						send(call, { type: 'status', speaking: false });
				}
			}
			note(sotto.muted ? 'muted' : 'unmuted');
			render();
		});
		$('leave').addEventListener('click', leave);
		$('lock').addEventListener('click', toggleLock);
		$('invite-more').addEventListener('click', inviteMore);
		$('codes-match').addEventListener('click', () => {
			if (!sotto.code)
				return;
			sotto.codeConfirmed = sotto.code;
			sotto.codeChanged = false;
			note(`codes match: ${sotto.code}`);
			addNotice('You compared the security codes: they match.');
			render();
			focusOn('mute');
		});
		$('codes-differ').addEventListener('click', () => {
			const c = call;
			if (!c || c.ended)
				return;
			sotto.codesDiffered = true;
			send(c, { type: 'leave' });
			endCall(c, 'ended', 'codes_differ');
		});
		$('rejoin').addEventListener('click', () => {
			const rec = stored();
			const c = call;
			if (c && !c.ended) {
				// Failed or lost: start this tab's call over.
				c.ended = true;
				stopMedia(c);
			}
			if (rec)
				join(rec.token, rec.role === 'creator' ? 'creator' : 'member',
					{ name: rec.name, expectMode: rec.mode, lastCode: c ? c.lastCode : null });
		});
		$('new-call').addEventListener('click', () => {
			if (sotto.screen === 'problem' && sotto.retryOffered && problemRetry) {
				const retry = problemRetry;
				problemRetry = null;
				retry();
				return;
			}
			startOver();
		});
		$('join').addEventListener('click', joinPending);
		$('forget').addEventListener('click', () => {
			const rec = stored();
			forget();
			if (rec) {
				// Tell the server this seat is not coming back.
				const ws = new WebSocket(wsUrl());
				ws.onopen = () => {
					ws.send(JSON.stringify({ type: 'join', token: rec.token }));
					ws.send(JSON.stringify({ type: 'leave' }));
				};
			}
			startOver();
		});
		// Leaving the page by accident ends the call: ask first.
		window.addEventListener('beforeunload', (ev) => {
			if (call && !call.ended) {
				ev.preventDefault();
				ev.returnValue = '';
			}
		});
		window.addEventListener('pagehide', () => {
			if (call && !call.ended)
				send(call, { type: 'leave' });
		});
		// Pasting another invite link into this tab.
		window.addEventListener('hashchange', () => location.reload());
		setInterval(pollStats, STATS_INTERVAL_MS);

		const fragment = new URLSearchParams(location.hash.slice(1));
		let token = fragment.get('join');
		if (token) {
			// The token is a credential: keep it out of the history
			// and of anything that copies the address bar, and in this
			// tab only, until it is used.
			history.replaceState(null, '', `${location.pathname}${location.search}`);
			try {
				sessionStorage.setItem(INVITE_KEY, token);
			} catch (e) {
				// the reload of this page will not find it
			}
		} else {
			try {
				token = sessionStorage.getItem(INVITE_KEY);
			} catch (e) {
				token = null;
			}
		}
		const rec = stored();
		if (rec && (!token || tokenClaims(token)?.room === rec.room)) {
			offerRejoin(rec);
		} else if (token) {
			if (rec)
				forget();
			openInvite(token);
		} else {
			showScreen('start');
			if (params.get('autostart') === '1')
				startCall();
			else
				render();
		}
		render();
	}

	init();
})();
