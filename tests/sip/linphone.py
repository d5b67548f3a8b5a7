"""Linphone as a real softphone in the SIP end-to-end tests: `linphone-daemon` (Debian
`linphone-cli`, liblinphone 5.1) with its own linphonerc, home and log in the test's directory,
SIP and RTP on 127.0.0.1 only, driven over the daemon's unix socket."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import DOMAIN, MEDIA_PORTS, free_port, require_tool, tone_wav

# The daemon makes its command socket at "/tmp/" + the name it is given: a name relative to /tmp
# puts it in the phone's own directory. A unix socket path holds at most 107 bytes.
_PIPE_ROOT = "/tmp"
_SOCKET_PATH_MAX = 107

# The daemon numbers the accounts of its configuration from 1; the phone has one.
_ACCOUNT = "1"

# Call states after which a call reaches no other (liblinphone's LinphoneCallState names).
_CALL_OVER = ("LinphoneCallError", "LinphoneCallEnd", "LinphoneCallReleased")

# What a failure report keeps of liblinphone's log: the SIP messages it sent and received (the
# lines after these headers, up to the next timestamped line), state changes, warnings, errors.
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} ")
_LOG_KEPT = re.compile(r"message sent to|new bytes from|moving from state|-warning-|-error-")


class LinphoneError(AssertionError):
    pass


@dataclass
class Linphone:
    """linphone-daemon as the phone `name` of DOMAIN, registered with digest authentication at
    the server's `sip_address`, which is also its outbound proxy. There is no sound card, so
    liblinphone captures nothing and sends no audio of its own: `send_audio` plays a tone file
    into the call, as a microphone would. Keys go as RFC 4733 telephone events
    (`keys="rfc4733"`) or as SIP INFO (`keys="info"`). With `auto_answer` the daemon accepts
    every incoming call itself; otherwise `answer` does.

    The daemon pushes nothing over its socket: each command gets one response, and events (call
    state changes) wait in a queue that `pop-event` empties; `wait_for_call` polls it.
    Use it through `running`, which stops it and adds its transcript and log to a failure."""

    directory: Path
    name: str
    password: str
    sip_address: str
    keys: str = "rfc4733"
    auto_answer: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    control: socket.socket | None = field(default=None, repr=False)
    events: list[dict[str, str]] = field(default_factory=list, repr=False)
    transcript: list[str] = field(default_factory=list, repr=False)

    @property
    def log_path(self) -> Path:
        return self.directory / "linphone.log"

    @property
    def tone_path(self) -> Path:
        return self.directory / "microphone.wav"

    def start(self) -> None:
        """Starts the daemon, which registers its account at once (`wait_until_registered`)."""
        assert self.keys in ("rfc4733", "info"), self.keys
        binary = require_tool("linphone-daemon", "linphone-cli")
        # liblinphone keeps its call log and chat database under the home's XDG data directory.
        (self.directory / ".local" / "share" / "linphone").mkdir(parents=True)
        self.tone_path.write_bytes(tone_wav(milliseconds=30_000))
        socket_path = self.directory / "control"
        pipe_name = os.path.relpath(socket_path, _PIPE_ROOT)
        if len(f"{_PIPE_ROOT}/{pipe_name}") > _SOCKET_PATH_MAX:
            raise LinphoneError(f"the control socket path {socket_path} is too long for a unix socket")
        config = self.directory / "linphonerc"
        rtp_low = MEDIA_PORTS.take(10)
        config.write_text(_linphonerc(self, free_port(), rtp_low, rtp_low + 9))
        command = [binary, "--config", str(config), "--log", str(self.log_path), "--pipe", pipe_name]
        if self.auto_answer:
            command.append("--auto-answer")
        self.transcript.append("$ " + " ".join(command))
        # Its own home and runtime directory: liblinphone's files stay in the directory, and no
        # desktop session's PulseAudio server lends it a sound card.
        home = str(self.directory)
        environment = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": f"{home}/.config",
                       "XDG_DATA_HOME": f"{home}/.local/share", "XDG_RUNTIME_DIR": home}
        with (self.directory / "output.log").open("wb") as output:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                            env=environment, cwd=self.directory, start_new_session=True)
        deadline = time.monotonic() + 15
        while self.control is None:
            control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                control.connect(str(socket_path))
                control.settimeout(10)
                self.control = control
            except OSError:
                control.close()
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise LinphoneError("linphone-daemon did not open its control socket") from None
                time.sleep(0.1)

    def wait_until_registered(self, seconds: float = 15) -> None:
        """Asks `register-status` until liblinphone reports the account registered (the daemon
        queues no event for registrations); a failed registration fails at once."""
        deadline = time.monotonic() + seconds
        while True:
            state = self.command(f"register-status {_ACCOUNT}").get("State", "")
            if state == "LinphoneRegistrationOk":
                return
            if state == "LinphoneRegistrationFailed":
                raise LinphoneError(f"linphone {self.name} failed to register")
            if time.monotonic() > deadline:
                raise LinphoneError(f"linphone {self.name} did not register within {seconds:.0f} s ({state})")
            time.sleep(0.1)

    def call(self, extension: str) -> str:
        """Dials `extension` of DOMAIN; the call's id."""
        return self.command(f"call sip:{extension}@{DOMAIN}")["Id"]

    def answer(self, call: str) -> None:
        self.command(f"answer {call}")

    def send_audio(self, call: str) -> None:
        """Plays the tone file (30 s) into `call`: the RTP a microphone would make."""
        self.command(f"incall-player-start {self.tone_path} {call}")

    def press(self, key: str) -> None:
        """Sends `key` in the current call, as `keys` says."""
        self.command(f"dtmf {key}")

    def hang_up(self, call: str) -> None:
        self.command(f"terminate {call}")

    def wait_for_call(self, state: str, call: str | None = None, seconds: float = 15) -> dict[str, str]:
        """The next change of `call` (any call when None) to `state`, e.g.
        LinphoneCallStreamsRunning, as the event's fields (Event, From, Id). A call that is over
        before it gets there fails at once."""
        deadline = time.monotonic() + seconds
        while True:
            for index, event in enumerate(self.events):
                if event.get("Event-type") != "call-state-changed" or call not in (None, event.get("Id")):
                    continue
                if event.get("Event") == state:
                    del self.events[: index + 1]
                    return event
                if event.get("Event") in _CALL_OVER:
                    raise LinphoneError(f"linphone {self.name}: call {event.get('Id')} reached {event.get('Event')} "
                                        f"while waiting for {state}")
            if time.monotonic() > deadline:
                raise LinphoneError(f"linphone {self.name}: no {state} within {seconds:.0f} s")
            if not self._pop_events():
                time.sleep(0.05)

    def _pop_events(self) -> bool:
        """Moves every queued event to `events`; False when there was none."""
        popped = False
        while True:
            event = self.command("pop-event", record=False)
            if "Event-type" not in event:
                return popped
            popped = True
            self.events.append(event)
            self.transcript.append("event: " + ", ".join(f"{key}={value}" for key, value in event.items()
                                                           if key not in ("Status", "Size")))

    def command(self, text: str, record: bool = True) -> dict[str, str]:
        """Runs a daemon command; its response's `Key: Value` lines. An `Error` status fails.
        (Some commands crash this daemon: `config-get` of an unset key, `call-stats`.)"""
        assert self.control is not None
        try:
            self.control.sendall(text.encode())
            # The daemon writes each response with one write() and nothing unasked, so one read
            # is one whole response (they are far smaller than the socket's buffer).
            raw = self.control.recv(65536).decode(errors="replace")
        except OSError as error:
            raise LinphoneError(f"linphone-daemon did not answer `{text}`: {error}") from None
        if not raw:
            raise LinphoneError(f"linphone-daemon closed its control socket on `{text}`")
        if record:
            self.transcript.append(f"> {text}\n" + "\n".join(f"  {line}" for line in raw.strip().splitlines()))
        fields = {}
        for line in raw.splitlines():
            key, separator, value = line.partition(": ")
            if separator:
                fields[key] = value
        if fields.get("Status") != "Ok":
            raise LinphoneError(f"linphone-daemon refused `{text}`: {raw.strip()}")
        return fields

    def stop(self) -> None:
        """`quit` (liblinphone unregisters as it shuts down), then a signal if it lingers."""
        if self.control is not None:
            try:
                self.command("quit")
            except LinphoneError:
                pass
            self.control.close()
            self.control = None
        if self.process is not None and self.process.poll() is None:
            for stop in (lambda: None, self.process.terminate, self.process.kill):
                stop()
                try:
                    self.process.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue

    def requests_sent(self) -> list[str]:
        """The request lines of the SIP requests liblinphone sent, from its log (complete once
        the daemon has stopped: liblinphone buffers it)."""
        lines = self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []
        return [following for line, following in zip(lines, lines[1:])
                if "message sent to" in line and not following.startswith("SIP/2.0")]

    def report(self) -> str:
        """The commands, responses and events of the test, the daemon's output, and the SIP
        messages, state changes, warnings and errors of liblinphone's log (complete only once
        the daemon has stopped: liblinphone buffers it)."""
        output = self.directory / "output.log"
        printed = output.read_text(errors="replace")[-3000:] if output.exists() else ""
        parts = [f"--- linphone {self.name}: commands, responses and events ---", *self.transcript,
                 f"--- linphone output ({output}) ---", printed]
        kept: list[str] = []
        keeping = False
        if self.log_path.exists():
            for line in self.log_path.read_text(errors="replace").splitlines():
                if _LOG_LINE.match(line):
                    keeping = bool(_LOG_KEPT.search(line))
                if keeping:
                    kept.append(line)
        excerpt = "\n".join(kept)
        parts += [f"--- linphone log, SIP and states ({self.log_path}) ---",
                  excerpt if len(excerpt) <= 20000 else "…" + excerpt[-20000:]]
        return "\n".join(parts)


@contextmanager
def running(phone: Linphone) -> Iterator[Linphone]:
    """Starts `phone` and stops it afterwards; a failure inside gets the phone's report."""
    try:
        phone.start()
        yield phone
    except AssertionError as failure:
        phone.stop()
        raise AssertionError(f"{failure}\n{phone.report()}") from None
    finally:
        phone.stop()


def _linphonerc(phone: Linphone, sip_port: int, rtp_low: int, rtp_high: int) -> str:
    """The daemon's configuration: one account, `phone.name` of DOMAIN, registering at the
    server, which is also its outbound proxy (DOMAIN resolves nowhere, as a client's SIP domain
    need not); UDP alone, on 127.0.0.1; no IPv6, video, ICE, STUN nor UPnP (a NAT policy with no
    protocol); no echo canceller (there is no sound card)."""
    info = phone.keys == "info"
    server = f"<sip:{phone.sip_address};transport=udp>"
    return "\n".join([
        "[sip]",
        f"sip_port={sip_port}",
        "sip_tcp_port=0",
        "sip_tls_port=0",
        "bind_address=127.0.0.1",
        "use_ipv6=0",
        "guess_hostname=0",
        "ping_with_options=0",
        "register_only_when_network_is_up=0",
        f"use_info={int(info)}",
        f"use_rfc2833={int(not info)}",
        "",
        "[proxy_0]",
        f"reg_identity=sip:{phone.name}@{DOMAIN}",
        f"reg_proxy={server}",
        f"reg_route={server}",
        "reg_expires=3600",
        "reg_sendregister=1",
        "publish=0",
        "",
        "[auth_info_0]",
        f"username={phone.name}",
        f"userid={phone.name}",
        f"passwd={phone.password}",
        f"realm={DOMAIN}",
        f"domain={DOMAIN}",
        "",
        "[rtp]",
        "bind_address=127.0.0.1",
        f"audio_rtp_port={rtp_low}-{rtp_high}",
        "",
        "[net]",
        "nat_policy_ref=qualityrate-tests",
        "",
        "[nat_policy_0]",
        "ref=qualityrate-tests",
        "protocols=",
        "",
        "[sound]",
        "echocancellation=0",
        "",
        "[video]",
        "enabled=0",
        "capture=0",
        "display=0",
        "automatically_accept=0",
        "automatically_initiate=0",
        "",
    ])
