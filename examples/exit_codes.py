"""How a program can end, and what stroboscope does with each: the report is
written every time, and the exit status is the one python would give.

    stroboscope examples/exit_codes.py ok         # status 0
    stroboscope examples/exit_codes.py code       # sys.exit(3): status 3
    stroboscope examples/exit_codes.py message    # sys.exit("..."): message on stderr, status 1
    stroboscope examples/exit_codes.py raise      # uncaught exception: traceback, status 1
    stroboscope examples/exit_codes.py interrupt  # KeyboardInterrupt: killed by SIGINT (shell: 130)
    stroboscope examples/exit_codes.py os_exit    # os._exit(4): status 4, but no report can be written
"""

import os
import sys


def work():
    return sum(i * i for i in range(200_000))


def end(how):
    work()
    if how == "code":
        sys.exit(3)
    if how == "message":
        sys.exit("exit_codes.py: giving up")
    if how == "raise":
        raise RuntimeError("something went wrong")
    if how == "interrupt":
        raise KeyboardInterrupt
    if how == "os_exit":
        os._exit(4)


if __name__ == "__main__":
    end(sys.argv[1] if len(sys.argv) > 1 else "ok")
