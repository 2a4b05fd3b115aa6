"""The live loop end to end: MJPEG/folder source -> scanner -> evidence, camera errors."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from hardware.camera.mjpeg_server import MjpegServer
from hardware.camera.sources import BUILTIN_SAMPLES, FileSource, FolderSource, MjpegSource
from hardware.scan.scan_session import ScanSession, ScanUpdate
from hardware.scan.scanner import FrameScanner
from hardware.scan.synth import SAMPLE_FILES
from kiosk.demo_cast import demo_holder
from kiosk.errors import ScanError
from kiosk.model import DocumentType, Provenance
from kiosk.ports import Frame
from kiosk.settings import CameraSettings, ScannerSettings

ON = date(2026, 1, 1)


class Listener:
    """Collects updates from the worker threads."""

    def __init__(self) -> None:
        self.updates: list[ScanUpdate] = []
        self.lock = threading.Lock()

    def __call__(self, update: ScanUpdate) -> None:
        with self.lock:
            self.updates.append(update)

    def kinds(self) -> list[str]:
        with self.lock:
            return [u.kind for u in self.updates]

    def wait(self, kind: str, timeout: float = 20.0) -> ScanUpdate:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for update in self.updates:
                    if update.kind == kind:
                        return update
            time.sleep(0.02)
        raise AssertionError(f"no {kind!r} update; got {self.kinds()}")


@pytest.fixture(scope="module")
def scanner(tessdata: Path) -> Any:
    frame_scanner = FrameScanner(ScannerSettings())
    yield frame_scanner
    frame_scanner.close()


def sample(name: str) -> Any:
    return cv2.imread(str(BUILTIN_SAMPLES / name), cv2.IMREAD_COLOR)


@contextmanager
def scanning(source: Any, scanner: FrameScanner,
             settings: ScannerSettings | None = None) -> Iterator[tuple[Listener, ScanSession]]:
    """``source`` started and a session scanning it, both stopped at the end."""
    source.start()
    listener = Listener()
    session = ScanSession(source, scanner, listener, settings, today=lambda: ON)
    session.start()
    try:
        yield listener, session
    finally:
        session.stop()
        source.stop()


def test_passport_over_mjpeg_becomes_scanned_evidence(scanner: FrameScanner) -> None:
    anna = demo_holder("anna", ON)
    with MjpegServer([sample(SAMPLE_FILES[0])], fps=10) as server:
        source = MjpegSource(server.url)
        with scanning(source, scanner) as (listener, session):
            update = listener.wait("evidence")
    evidence = update.evidence
    assert evidence is not None and update.mrz is not None
    assert evidence.doc_type is DocumentType.PASSPORT
    assert evidence.personnummer == anna.personnummer
    assert evidence.document_number == anna.document_number
    assert evidence.how["personnummer"] is Provenance.SCANNED
    assert session.consensus.offered >= 2  # two agreeing frames were needed
    assert listener.kinds().count("evidence") == 1


def test_licence_qr_from_a_folder_becomes_evidence(scanner: FrameScanner,
                                                   tmp_path: Path) -> None:
    shutil.copy(BUILTIN_SAMPLES / SAMPLE_FILES[2], tmp_path / SAMPLE_FILES[2])
    source = FolderSource(str(tmp_path), CameraSettings(fps=15))
    with scanning(source, scanner) as (listener, _):
        update = listener.wait("evidence")
    assert listener.kinds()[0] == "barcodes"
    assert update.evidence is not None
    assert update.evidence.doc_type is DocumentType.DRIVING_LICENCE
    assert update.evidence.personnummer == demo_holder("eva", ON).personnummer


def test_camera_gone_is_reported_once_and_recovery_too(scanner: FrameScanner) -> None:
    server = MjpegServer([sample(SAMPLE_FILES[1])], fps=10).start()
    source = MjpegSource(server.url, timeout_s=1.0, stale_after_s=1.0)
    try:
        with scanning(source, scanner, ScannerSettings(mrz=False)) as (listener, session):
            time.sleep(0.5)
            port = server.port
            server.stop()
            error = listener.wait("error")
            assert error.error is not None and error.error.code == "camera_unavailable"
            server = MjpegServer([sample(SAMPLE_FILES[1])], fps=10, port=port).start()
            listener.wait("camera_back")
            assert listener.kinds().count("error") == 1
            assert session.running
    finally:
        server.stop()


def test_video_file_of_a_licence_becomes_evidence(scanner: FrameScanner, tmp_path: Path) -> None:
    frame = sample(SAMPLE_FILES[2])
    path = tmp_path / "licence.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10,
                             (frame.shape[1], frame.shape[0]))
    assert writer.isOpened()
    blank = np.full_like(frame, 90)
    for image in (blank, blank, frame, frame, frame):  # the licence comes into view
        writer.write(image)
    writer.release()
    source = FileSource(str(path), CameraSettings())
    with scanning(source, scanner, ScannerSettings(mrz=False)) as (listener, _):
        update = listener.wait("evidence")
    assert update.evidence is not None
    assert update.evidence.doc_type is DocumentType.DRIVING_LICENCE
    assert update.barcodes[0].format == "QRCode"


def test_a_picture_too_small_for_a_document_leaves_the_loop_reading(
    scanner: FrameScanner, tmp_path: Path
) -> None:
    """A 1x1 picture in the folder stopped the barcode loop's thread (an OpenCV resize
    assertion): the licence after it was never read, and no error was reported."""
    cv2.imwrite(str(tmp_path / "a_dot.png"), np.full((1, 1, 3), 200, np.uint8))
    cv2.imwrite(str(tmp_path / "b_strip.png"), np.full((3, 5000, 3), 200, np.uint8))
    shutil.copy(BUILTIN_SAMPLES / SAMPLE_FILES[2], tmp_path / f"c_{SAMPLE_FILES[2]}")
    source = FolderSource(str(tmp_path), CameraSettings(fps=15))
    with scanning(source, scanner) as (listener, _):
        update = listener.wait("evidence")
    assert update.evidence is not None
    assert update.evidence.doc_type is DocumentType.DRIVING_LICENCE



class RawModeCamera:
    """A camera left in a raw 16-bit mode for its first frames (a depth or infrared node
    picked as /dev/video0, or a driver's raw format), then giving colour frames: the
    physical camera is the one part no real component here can stand in for."""

    def __init__(self, colour: Any, raw_frames: int = 3) -> None:
        self.colour = colour
        self.raw_frames = raw_frames
        self.index = 0

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def latest(self) -> Frame:
        self.index += 1
        if self.index <= self.raw_frames:
            raw = np.full(self.colour.shape, 30_000, np.uint16)
            return Frame(raw, time.monotonic(), self.index)
        return Frame(self.colour, time.monotonic(), self.index)


def test_a_frame_the_decoders_fail_on_is_reported_and_the_loop_reads_on(
    scanner: FrameScanner
) -> None:
    """A 16-bit frame made zxing-cpp raise TypeError and OpenCV cv2.error, neither a
    ScanError: both loop threads ended unseen, so the licence that came next was never read
    and the screen said nothing."""
    with scanning(RawModeCamera(sample(SAMPLE_FILES[2])), scanner) as (listener, _):
        error = listener.wait("error")
        update = listener.wait("evidence")
    assert isinstance(error.error, ScanError) and error.error.code == "scan_error"
    assert update.evidence is not None
    assert update.evidence.doc_type is DocumentType.DRIVING_LICENCE


def test_a_licence_code_naming_someone_else_backwards_is_refused_not_evidence(
    scanner: FrameScanner, tmp_path: Path
) -> None:
    """A licence QR whose name carries a right-to-left override (read through zxing-cpp
    as it is) was accepted as scanned evidence, and the confirm screen would have shown
    the administrator the name reversed."""
    from hardware.scan.synth import render_driving_licence

    eva = demo_holder("eva", ON)
    text = (f"SE-DL1;PNR={eva.personnummer};DOC=EE5566778;EXP=20361231;"
            "NAME=\u202eKE,AVE")
    cv2.imwrite(str(tmp_path / "licence.png"), render_driving_licence(text, []))
    source = FolderSource(str(tmp_path), CameraSettings(fps=15))
    with scanning(source, scanner) as (listener, session):
        read = listener.wait("barcodes")
        error = listener.wait("error")
    assert read.barcodes and read.barcodes[0].text == text
    assert error.error is not None and error.error.data["check"] == "name"
    assert "evidence" not in listener.kinds() and session.evidence is None
