#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Gateway-mode SDP against real peers (control/gateway/gw_sdp.c).

    gw_sdp_peers.py aiortc TEST_GW_SDP      round trip with aiortc
    gw_sdp_peers.py chromium TEST_GW_SDP    round trip with headless Chromium
    gw_sdp_peers.py aiortc-offer            print the aiortc fixture offer
    gw_sdp_peers.py chromium-offer          print the Chromium fixture offer

A round trip lets the peer make its own offer (one sendrecv audio
transceiver with a track, two recvonly ones, bundled), has
`TEST_GW_SDP --answer N` build sotto's answer to it, and checks that the
peer's setRemoteDescription takes it and that every transceiver's
currentDirection is what the slots make it. Chromium also gets an offer
with video and a data channel, whose sections the answer rejects.
Exit 0 pass, 1 fail, 77 skip (peer not installed).
"""
import asyncio
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

SKIP = 77

# slots -> currentDirection of [sendrecv, recvonly, recvonly] transceivers:
# a slot makes sotto send on the section, the browser sends on the first
EXPECT = {
    2: ['sendrecv', 'recvonly', 'inactive'],
    3: ['sendrecv', 'recvonly', 'recvonly'],
    0: ['sendonly', 'inactive', 'inactive'],
}


def answer(test_bin, offer, slots):
    r = subprocess.run([test_bin, '--answer', str(slots)], input=offer.encode(),
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit('answer refused: %s' % r.stderr.decode().strip())
    return r.stdout.decode()


# ---- aiortc ----

async def aiortc_offer_pc():
    from aiortc import RTCConfiguration, RTCPeerConnection
    from aiortc.mediastreams import AudioStreamTrack

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver(AudioStreamTrack(), direction='sendrecv')
    pc.addTransceiver('audio', direction='recvonly')
    pc.addTransceiver('audio', direction='recvonly')
    await pc.setLocalDescription(await pc.createOffer())
    return pc


async def aiortc_print_offer():
    pc = await aiortc_offer_pc()
    sys.stdout.write(pc.localDescription.sdp)
    await pc.close()


async def aiortc_round_trip(test_bin):
    from aiortc import RTCSessionDescription

    # the connection attempts setRemoteDescription starts (to a gateway
    # that is not there) fail once the pc is closed: not the test's concern
    asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)
    bad = 0
    for slots, want in EXPECT.items():
        pc = await aiortc_offer_pc()
        try:
            sdp = answer(test_bin, pc.localDescription.sdp, slots)
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=sdp, type='answer'))
            got = [t.currentDirection for t in pc.getTransceivers()]
            ok = got == want and pc.signalingState == 'stable'
            print('aiortc, %d slots: %s %s' % (slots, got,
                                                'ok' if ok else 'want %s' % want))
            bad += not ok
        finally:
            await pc.close()
    await asyncio.sleep(0.5)
    return 1 if bad else 0


def aiortc_main(mode, test_bin):
    try:
        import aiortc  # noqa: F401
    except ImportError as e:
        print('SKIP: aiortc is not importable (%s; Debian python3-aiortc)' % e)
        return SKIP
    if mode == 'aiortc-offer':
        asyncio.run(aiortc_print_offer())
        return 0
    return asyncio.run(aiortc_round_trip(test_bin))


# ---- Chromium ----

CHROMIUM = os.environ.get('SOTTO_CHROMIUM', '/usr/bin/chromium')
CHROMEDRIVER = os.environ.get('SOTTO_CHROMEDRIVER', '/usr/bin/chromedriver')

JS_OFFER = r"""
const done = arguments[arguments.length - 1];
const kind = arguments[0];
(async () => {
	const pc = new RTCPeerConnection({iceServers: []});
	window.pc = pc;
	if (kind === 'gateway') {
		const s = await navigator.mediaDevices.getUserMedia({audio: true});
		pc.addTransceiver(s.getAudioTracks()[0],
				  {direction: 'sendrecv', streams: [s]});
		pc.addTransceiver('audio', {direction: 'recvonly'});
		pc.addTransceiver('audio', {direction: 'recvonly'});
	} else if (kind === 'video_first') {
		pc.addTransceiver('video', {direction: 'recvonly'});
		const s = await navigator.mediaDevices.getUserMedia({audio: true});
		pc.addTransceiver(s.getAudioTracks()[0],
				  {direction: 'sendrecv', streams: [s]});
	} else {
		const s = await navigator.mediaDevices.getUserMedia(
			{audio: true, video: true});
		s.getTracks().forEach(t => pc.addTrack(t, s));
		pc.createDataChannel('chat');
	}
	const end = new Promise(resolve => pc.addEventListener('icecandidate',
		e => { if (!e.candidate) resolve(); }));
	await pc.setLocalDescription(await pc.createOffer());
	await end;
	done(JSON.stringify({sdp: pc.localDescription.sdp}));
})().catch(e => done(JSON.stringify({error: String(e)})));
"""

JS_ANSWER = r"""
const done = arguments[arguments.length - 1];
(async () => {
	await window.pc.setRemoteDescription({type: 'answer', sdp: arguments[0]});
	done(JSON.stringify({
		dirs: window.pc.getTransceivers().map(t => t.currentDirection),
		state: window.pc.signalingState,
	}));
	window.pc.close();
})().catch(e => done(JSON.stringify({error: String(e)})));
"""


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chromium_session():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu',
              '--disable-quic', '--no-first-run',
              '--disable-background-networking', '--disable-component-update',
              '--disable-sync', '--user-data-dir=' + tempfile.mkdtemp(),
              '--use-fake-device-for-media-stream',
              '--use-fake-ui-for-media-stream'):
        opts.add_argument(a)
    opts.binary_location = CHROMIUM
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_script_timeout(60)
    return drv


def run_js(drv, js, *args):
    r = json.loads(drv.execute_async_script(js, *args))
    if 'error' in r:
        raise SystemExit('Chromium: %s' % r['error'])
    return r


def chromium_main(mode, test_bin):
    try:
        import selenium  # noqa: F401
    except ImportError as e:
        print('SKIP: python3-selenium is missing (%s)' % e)
        return SKIP
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            print('SKIP: %s not found (Debian chromium, chromium-driver)' % path)
            return SKIP

    # getUserMedia needs a secure context: http://127.0.0.1 is one
    page = tempfile.mkdtemp()
    with open(os.path.join(page, 'index.html'), 'w') as f:
        f.write('<!doctype html><title>gw_sdp</title>\n')
    srv = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), lambda *a: Quiet(*a, directory=page))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = 'http://127.0.0.1:%d/index.html' % srv.server_address[1]
    drv = chromium_session()
    bad = 0
    try:
        drv.get(url)
        if mode == 'chromium-offer':
            sys.stdout.write(run_js(drv, JS_OFFER, 'gateway')['sdp'])
            return 0
        cases = [('gateway', s, w) for s, w in EXPECT.items()]
        # audio, video, data: video and data are rejected (port 0); the
        # video transceiver stops, and a stopped one is no longer listed
        cases.append(('av_data', 1, ['sendrecv']))
        # the offerer-tagged section (video) rejected: audio is tagged
        cases.append(('video_first', 1, ['sendrecv']))
        for kind, slots, want in cases:
            offer = run_js(drv, JS_OFFER, kind)['sdp']
            r = run_js(drv, JS_ANSWER, answer(test_bin, offer, slots))
            ok = r['dirs'] == want and r['state'] == 'stable'
            print('chromium %s, %d slots: %s %s' % (
                kind, slots, r['dirs'], 'ok' if ok else 'want %s' % want))
            bad += not ok
    finally:
        drv.quit()
        srv.shutdown()
    return 1 if bad else 0


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in (
            'aiortc', 'chromium', 'aiortc-offer', 'chromium-offer') or (
            sys.argv[1] in ('aiortc', 'chromium') and len(sys.argv) != 3):
        sys.exit(__doc__)
    mode = sys.argv[1]
    test_bin = sys.argv[2] if len(sys.argv) > 2 else None
    if mode.startswith('aiortc'):
        return aiortc_main(mode, test_bin)
    return chromium_main(mode, test_bin)


if __name__ == '__main__':
    sys.exit(main())
