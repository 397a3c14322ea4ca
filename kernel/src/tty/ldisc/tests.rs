//! The line discipline against what Linux's `N_TTY` does with the same bytes (each
//! expectation is what a Linux pseudo-terminal shows on its master side and reads on its
//! slave side with the same settings).

use super::*;
use crate::tty::termios::{Termios, cc, iflag, lflag, oflag};

fn cooked() -> LineDiscipline {
    LineDiscipline::new(Termios::slave_default())
}

/// Feeds `input`; returns the echo and the signals asked for.
fn feed(ldisc: &mut LineDiscipline, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut echo = Vec::new();
    let mut signals = Vec::new();
    for &byte in input {
        match ldisc.receive(byte, &mut echo) {
            Receive::Taken(Some(signal)) => signals.push(signal),
            Receive::Taken(None) => {}
            Receive::Full => panic!("no room for {byte:#x}"),
        }
    }
    (echo, signals)
}

fn with(change: impl FnOnce(&mut Termios)) -> LineDiscipline {
    let mut termios = Termios::slave_default();
    change(&mut termios);
    LineDiscipline::new(termios)
}

#[test]
fn a_line_is_echoed_with_crlf_and_read_whole() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"echo hi\r");
    assert_eq!(echo, b"echo hi\r\n");
    assert!(ldisc.input_available(false));
    assert_eq!(ldisc.read(100), b"echo hi\n");
    assert!(!ldisc.input_available(false));
}

#[test]
fn nothing_is_readable_before_the_line_ends() {
    let mut ldisc = cooked();
    feed(&mut ldisc, b"partial");
    assert!(!ldisc.input_available(false));
    assert_eq!(ldisc.readable(), 0);
    assert_eq!(ldisc.read(100), b"");
}

#[test]
fn backspace_as_verase_edits_the_line_and_rubs_out_the_echo() {
    // The issue's example: with VERASE = ^H, "abc^H^Hd\n" reads as "ad\n".
    let mut ldisc = with(|t| t.cc[cc::VERASE] = 8);
    let (echo, _) = feed(&mut ldisc, b"abc\x08\x08d\n");
    assert_eq!(ldisc.read(100), b"ad\n");
    assert_eq!(echo, b"abc\x08 \x08\x08 \x08d\r\n");
}

#[test]
fn default_erase_is_del_and_stops_at_the_line_start() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"x\x7f\x7f\x7fy\n");
    assert_eq!(echo, b"x\x08 \x08y\r\n");
    assert_eq!(ldisc.read(100), b"y\n");
}

#[test]
fn erase_without_echoe_echoes_the_erase_character() {
    let mut ldisc = with(|t| t.lflag &= !lflag::ECHOE);
    let (echo, _) = feed(&mut ldisc, b"ab\x7f");
    // ECHOCTL shows DEL as ^?.
    assert_eq!(echo, b"ab^?");
}

#[test]
fn a_control_character_takes_two_columns_to_erase() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"\x01\x7f");
    assert_eq!(echo, b"^A\x08 \x08\x08 \x08");
}

#[test]
fn kill_erases_the_line_character_by_character_with_echoke() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"ab\x15c\n");
    assert_eq!(echo, b"ab\x08 \x08\x08 \x08c\r\n");
    assert_eq!(ldisc.read(100), b"c\n");
}

#[test]
fn kill_without_echoke_echoes_it_and_a_newline() {
    let mut ldisc = with(|t| t.lflag &= !lflag::ECHOKE);
    let (echo, _) = feed(&mut ldisc, b"ab\x15");
    assert_eq!(echo, b"ab^U\r\n");
    assert_eq!(ldisc.readable(), 0);
}

#[test]
fn werase_takes_the_last_word_and_the_blanks_after_it() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"one two  \x17\n");
    assert_eq!(ldisc.read(100), b"one \n");
    assert_eq!(&echo[..9], b"one two  ");
    assert_eq!(
        &echo[9..],
        b"\x08 \x08\x08 \x08\x08 \x08\x08 \x08\x08 \x08\r\n"
    );
}

#[test]
fn eof_at_line_start_reads_as_end_of_file_and_after_text_ends_the_line() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"\x04");
    assert_eq!(echo, b"");
    assert!(ldisc.input_available(false));
    assert_eq!(ldisc.read(100), b"");
    assert!(!ldisc.input_available(false));
    feed(&mut ldisc, b"abc\x04");
    assert_eq!(ldisc.read(100), b"abc");
    assert_eq!(ldisc.readable(), 0);
}

#[test]
fn a_short_read_takes_part_of_a_line_and_the_rest_later() {
    let mut ldisc = cooked();
    feed(&mut ldisc, b"hello\nworld\n");
    assert_eq!(ldisc.readable(), 12);
    assert_eq!(ldisc.read(3), b"hel");
    assert_eq!(ldisc.read(100), b"lo\n");
    assert_eq!(ldisc.read(100), b"world\n");
}

#[test]
fn fionread_skips_eof_markers() {
    let mut ldisc = cooked();
    feed(&mut ldisc, b"ab\x04cd\n");
    assert_eq!(ldisc.readable(), 5);
}

#[test]
fn carriage_return_maps() {
    let mut ldisc = with(|t| t.iflag = iflag::IGNCR);
    feed(&mut ldisc, b"a\rb\n");
    assert_eq!(ldisc.read(100), b"ab\n");
    let mut ldisc = with(|t| t.iflag = iflag::INLCR);
    feed(&mut ldisc, b"a\nb\r");
    // INLCR turns \n into \r, which is no line end: the line is still open.
    assert_eq!(ldisc.readable(), 0);
    let mut ldisc = with(|t| t.iflag = 0);
    feed(&mut ldisc, b"a\r\n");
    assert_eq!(ldisc.read(100), b"a\r\n");
}

#[test]
fn interrupt_signals_flushes_and_echoes_caret_c() {
    let mut ldisc = cooked();
    let (echo, signals) = feed(&mut ldisc, b"sleep\x03");
    assert_eq!(signals, [SIGINT]);
    assert_eq!(echo, b"^C");
    assert_eq!(ldisc.readable(), 0);
    assert!(ldisc.take_events() & event::FLUSHED_INPUT != 0);
    feed(&mut ldisc, b"x\n");
    assert_eq!(ldisc.read(100), b"x\n");
}

#[test]
fn quit_and_suspend_and_noflsh() {
    let mut ldisc = with(|t| t.lflag |= lflag::NOFLSH);
    feed(&mut ldisc, b"ab\n");
    let (echo, signals) = feed(&mut ldisc, b"\x1c\x1a");
    assert_eq!(signals, [SIGQUIT, SIGTSTP]);
    assert_eq!(echo, b"^\\^Z");
    assert_eq!(ldisc.read(100), b"ab\n");
}

#[test]
fn no_isig_makes_them_ordinary() {
    let mut ldisc = with(|t| t.lflag &= !lflag::ISIG);
    let (echo, signals) = feed(&mut ldisc, b"\x03\n");
    assert!(signals.is_empty());
    assert_eq!(echo, b"^C\r\n");
    assert_eq!(ldisc.read(100), b"\x03\n");
}

#[test]
fn lnext_quotes_the_next_character() {
    let mut ldisc = cooked();
    let (echo, signals) = feed(&mut ldisc, b"\x16\x03\x16\x7f\n");
    assert!(signals.is_empty());
    assert_eq!(echo, b"^\x08^C^\x08^?\r\n");
    assert_eq!(ldisc.read(100), b"\x03\x7f\n");
}

#[test]
fn reprint_shows_the_line_again() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"ab\x12");
    assert_eq!(echo, b"ab^R\r\nab");
}

#[test]
fn echonl_echoes_only_newlines() {
    let mut ldisc = with(|t| {
        t.lflag &= !lflag::ECHO;
        t.lflag |= lflag::ECHONL;
    });
    let (echo, _) = feed(&mut ldisc, b"secret\n");
    assert_eq!(echo, b"\r\n");
}

#[test]
fn echoprt_shows_erased_characters_between_backslash_and_slash() {
    let mut ldisc = with(|t| t.lflag |= lflag::ECHOPRT);
    let (echo, _) = feed(&mut ldisc, b"abc\x7f\x7fd");
    assert_eq!(echo, b"abc\\cb/d");
}

#[test]
fn erasing_a_tab_backs_up_to_the_previous_stop() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"ab\t\x7f");
    assert_eq!(echo, b"ab\t\x08\x08\x08\x08\x08\x08");
    // After a prompt that left the cursor at column 3, the line starts there.
    let mut ldisc = cooked();
    let mut out = Vec::new();
    ldisc.write(b"$  ", usize::MAX, &mut out);
    let (echo, _) = feed(&mut ldisc, b"\t\x7f");
    assert_eq!(echo, b"\t\x08\x08\x08\x08\x08");
}

#[test]
fn utf8_erase_takes_whole_characters() {
    let mut ldisc = with(|t| t.iflag |= iflag::IUTF8);
    let (echo, _) = feed(&mut ldisc, "é\x7f".as_bytes());
    assert_eq!(&echo[2..], b"\x08 \x08");
    assert_eq!(ldisc.readable(), 0);
    feed(&mut ldisc, b"\n");
    assert_eq!(ldisc.read(100), b"\n");
}

#[test]
fn raw_mode_passes_every_byte_at_once() {
    let mut ldisc = with(|t| {
        t.iflag = 0;
        t.lflag = 0;
    });
    let (echo, signals) = feed(&mut ldisc, b"\x03\r\x7fq");
    assert!(echo.is_empty() && signals.is_empty());
    assert!(ldisc.input_available(false));
    assert_eq!(ldisc.readable(), 4);
    assert_eq!(ldisc.read(2), b"\x03\r");
    assert_eq!(ldisc.read(10), b"\x7fq");
}

#[test]
fn poll_waits_for_vmin_bytes_when_vtime_is_zero() {
    let mut ldisc = with(|t| {
        t.lflag = 0;
        t.cc[cc::VMIN] = 3;
        t.cc[cc::VTIME] = 0;
    });
    feed(&mut ldisc, b"ab");
    assert!(ldisc.input_available(false));
    assert!(!ldisc.input_available(true));
    feed(&mut ldisc, b"c");
    assert!(ldisc.input_available(true));
}

#[test]
fn stop_and_start_characters_control_output() {
    let mut ldisc = cooked();
    let (echo, _) = feed(&mut ldisc, b"\x13");
    assert!(echo.is_empty());
    assert!(ldisc.is_stopped());
    assert_eq!(ldisc.take_events(), event::STOPPED);
    feed(&mut ldisc, b"x");
    assert!(
        ldisc.is_stopped(),
        "without IXANY other keys do not restart"
    );
    feed(&mut ldisc, b"\x11");
    assert!(!ldisc.is_stopped());
    assert_eq!(ldisc.take_events(), event::STARTED);
    // The flow characters are not input.
    feed(&mut ldisc, b"\n");
    assert_eq!(ldisc.read(10), b"x\n");
}

#[test]
fn ixany_restarts_on_any_key_but_not_after_tcooff() {
    let mut ldisc = with(|t| t.iflag |= iflag::IXANY);
    feed(&mut ldisc, b"\x13a");
    assert!(!ldisc.is_stopped());
    ldisc.output_off();
    feed(&mut ldisc, b"b\x11");
    assert!(ldisc.is_stopped());
    ldisc.output_on();
    assert!(!ldisc.is_stopped());
}

#[test]
fn turning_ixon_off_restarts_output() {
    let mut ldisc = cooked();
    feed(&mut ldisc, b"\x13");
    let mut termios = *ldisc.termios();
    termios.iflag &= !iflag::IXON;
    ldisc.set_termios(termios);
    assert!(!ldisc.is_stopped());
}

#[test]
fn output_processing() {
    let mut ldisc = cooked();
    let mut out = Vec::new();
    assert_eq!(ldisc.write(b"a\nb", usize::MAX, &mut out), 3);
    assert_eq!(out, b"a\r\nb");
    // No room for the two bytes \n becomes: stops before it.
    let mut out = Vec::new();
    assert_eq!(ldisc.write(b"x\ny", 2, &mut out), 1);
    assert_eq!(out, b"x");

    let mut ldisc = with(|t| t.oflag = oflag::OPOST | oflag::OCRNL | oflag::ONLRET);
    let mut out = Vec::new();
    ldisc.write(b"a\rb", usize::MAX, &mut out);
    assert_eq!(out, b"a\nb");

    let mut ldisc = with(|t| t.oflag = oflag::OPOST | oflag::ONOCR);
    let mut out = Vec::new();
    ldisc.write(b"\rab\r", usize::MAX, &mut out);
    assert_eq!(out, b"ab\r");

    let mut ldisc = with(|t| t.oflag = oflag::OPOST | oflag::XTABS | oflag::OLCUC);
    let mut out = Vec::new();
    ldisc.write(b"ab\tc", usize::MAX, &mut out);
    assert_eq!(out, b"AB      C");

    let mut ldisc = with(|t| t.oflag = 0);
    let mut out = Vec::new();
    assert_eq!(ldisc.write(b"a\nb", 2, &mut out), 2);
    assert_eq!(out, b"a\n");
}

#[test]
fn switching_to_canonical_makes_pending_bytes_one_line() {
    let mut ldisc = with(|t| t.lflag &= !lflag::ICANON);
    feed(&mut ldisc, b"abc");
    let mut termios = *ldisc.termios();
    termios.lflag |= lflag::ICANON;
    ldisc.set_termios(termios);
    assert!(ldisc.input_available(false));
    assert_eq!(ldisc.read(100), b"abc");
}

#[test]
fn switching_to_raw_makes_a_partial_line_readable() {
    let mut ldisc = cooked();
    feed(&mut ldisc, b"par");
    assert!(!ldisc.input_available(false));
    let mut termios = *ldisc.termios();
    termios.lflag &= !lflag::ICANON;
    ldisc.set_termios(termios);
    assert!(ldisc.input_available(false));
    assert_eq!(ldisc.read(100), b"par");
}

#[test]
fn a_full_queue_refuses_raw_input_but_a_long_line_can_still_end() {
    let mut raw = with(|t| {
        t.lflag = 0;
        t.iflag = 0;
    });
    let mut echo = Vec::new();
    for _ in 0..INPUT_MAX - 1 {
        assert_eq!(raw.receive(b'x', &mut echo), Receive::Taken(None));
    }
    assert_eq!(raw.receive(b'x', &mut echo), Receive::Full);
    assert!(!raw.has_room());
    raw.read(10);
    assert!(raw.has_room());

    let mut ldisc = with(|t| t.lflag &= !lflag::ECHO);
    for _ in 0..INPUT_MAX + 10 {
        assert_eq!(ldisc.receive(b'y', &mut echo), Receive::Taken(None));
    }
    assert!(ldisc.has_room());
    ldisc.receive(b'\n', &mut echo);
    let line = ldisc.read(usize::MAX);
    assert_eq!(line.len(), INPUT_MAX);
    assert_eq!(line.last(), Some(&b'\n'));
}

#[test]
fn istrip_and_iuclc() {
    let mut ldisc = with(|t| t.iflag |= iflag::ISTRIP | iflag::IUCLC);
    feed(&mut ldisc, b"\xc1B\n");
    assert_eq!(ldisc.read(10), b"ab\n");
}

#[test]
fn disabled_control_characters_are_ordinary() {
    let mut ldisc = with(|t| t.cc[cc::VINTR] = 0);
    let (_, signals) = feed(&mut ldisc, b"\x00\x03\n");
    assert_eq!(signals, [] as [u8; 0]);
    assert_eq!(ldisc.read(10), b"\x00\x03\n");
}
