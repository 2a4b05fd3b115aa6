"""The emulated card's APDUs, and the vpcd wire protocol against a local listener."""

from __future__ import annotations

import socket
import struct

import pytest

from hardware.emulator import CARD_INFO_AID, EmulatedCard, VpcdEmulator
from kiosk.errors import ReaderUnavailable

SELECT = bytes([0x00, 0xA4, 0x04, 0x00, len(CARD_INFO_AID)]) + CARD_INFO_AID
READ = bytes.fromhex("00B0000000")


def test_card_info_file_answers_the_card_number() -> None:
    card = EmulatedCard(b"\x3b\x00", "9752210000000001")
    assert card.respond(READ) == b"\x69\x85"  # nothing selected yet
    assert card.respond(SELECT) == b"\x90\x00"
    assert card.respond(READ) == b"9752210000000001\x90\x00"
    card.reset()
    assert card.respond(READ) == b"\x69\x85"


def test_other_commands_and_configured_answers() -> None:
    card = EmulatedCard(b"\x3b\x00", None, answers={b"\x80\xca\x00\x00": b"\x01\x90\x00"})
    assert card.respond(SELECT) == b"\x6a\x82"  # no card number: no card-info file
    assert card.respond(bytes.fromhex("00880000")) == b"\x6d\x00"
    assert card.respond(b"\x80\xca\x00\x00") == b"\x01\x90\x00"
    assert card.respond(b"\x00") == b"\x67\x00"


def _recv_msg(conn: socket.socket) -> bytes:
    header = conn.recv(2, socket.MSG_WAITALL)
    (length,) = struct.unpack(">H", header)
    return conn.recv(length, socket.MSG_WAITALL)


def test_vpcd_protocol_atr_and_apdu_framing() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        emulator = VpcdEmulator(port=port)
        card = EmulatedCard(bytes.fromhex("3B8001"), "9752210000000001")
        emulator.insert(card)
        conn, _ = server.accept()
        with conn:
            conn.sendall(struct.pack(">HB", 1, 1))  # power on
            conn.sendall(struct.pack(">HB", 1, 4))  # get ATR
            assert _recv_msg(conn) == bytes.fromhex("3B8001")
            conn.sendall(struct.pack(">H", len(SELECT)) + SELECT)
            assert _recv_msg(conn) == b"\x90\x00"
            conn.sendall(struct.pack(">H", len(READ)) + READ)
            assert _recv_msg(conn) == b"9752210000000001\x90\x00"
            emulator.remove()
            assert conn.recv(1) == b""  # removing the card closes the connection
        assert not emulator.is_connected()


def test_insert_without_a_vpcd_reader_is_reader_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    emulator = VpcdEmulator(port=port)
    with pytest.raises(ReaderUnavailable):
        emulator.insert(EmulatedCard(b"\x3b\x00"), timeout=0.3)
    assert emulator.card is None
