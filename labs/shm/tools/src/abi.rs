//! The job request buffer's layout and the lab's numbers (commands, stages, errors), as the
//! handout documents them. Layout only: no behaviour.

use std::mem::offset_of;

pub const BUFFER_SIZE: usize = 4096;

/// `JobRequestBuffer_t` of the notebook.
#[repr(C)]
#[derive(Debug)]
pub struct JobRequestBuffer {
    pub pid: i32,
    pub cmd: i32,
    pub arg1: i32,
    pub arg2: i32,
    pub response: i32,
    pub buffer: [u8; BUFFER_SIZE],
    pub buffer_len: i32,
    pub status: i32,
    pub lock: i32,
}

pub const SIZE: usize = std::mem::size_of::<JobRequestBuffer>();
pub const PID: usize = offset_of!(JobRequestBuffer, pid);
pub const CMD: usize = offset_of!(JobRequestBuffer, cmd);
pub const ARG1: usize = offset_of!(JobRequestBuffer, arg1);
pub const ARG2: usize = offset_of!(JobRequestBuffer, arg2);
pub const RESPONSE: usize = offset_of!(JobRequestBuffer, response);
pub const BUFFER: usize = offset_of!(JobRequestBuffer, buffer);
pub const BUFFER_LEN: usize = offset_of!(JobRequestBuffer, buffer_len);
pub const STATUS: usize = offset_of!(JobRequestBuffer, status);

pub const CMD_WRITE: i32 = 1;
pub const CMD_READ: i32 = 2;
pub const CMD_GETPID: i32 = 3;

pub const JOB_REQUESTED: i32 = 1;
pub const JOB_DONE: i32 = 3;

pub const EBADF: i32 = 9;
pub const EINVAL: i32 = 22;
pub const ENOSYS: i32 = 38;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_notebooks() {
        assert_eq!(
            (PID, CMD, ARG1, ARG2, RESPONSE, BUFFER),
            (0, 4, 8, 12, 16, 20)
        );
        assert_eq!((BUFFER_LEN, STATUS), (4116, 4120));
        assert_eq!(SIZE, 4128);
    }
}
