//! Where the writer thread writes: stderr (or a stream), a file, or syslog.

use super::file::FileOut;
use super::stream::StreamOut;
use super::syslog::SyslogOut;

pub enum Output {
    Stream(StreamOut),
    File(FileOut),
    Syslog(SyslogOut),
}

impl Output {
    pub fn flush(&mut self) {
        match self {
            Output::Stream(s) => s.flush(),
            Output::File(f) => f.flush(),
            Output::Syslog(s) => s.flush(),
        }
    }
}
