#!/bin/bash
# Bench copy of the handout-style Part 1 test, aimed at the reference Rust
# listener: start it in the background, wait a fixed second (as the handout's
# script does), send SIGUSR1, and check its output and exit status.
# Run from a lab directory; LISTENER overrides the program.
set -x
set -e

listener=${LISTENER:-./target/release/listener}

rm -f output.log
"$listener" > output.log &
listener_pid=$!

sleep 1   # the handout's way of waiting for the handlers

kill -s USR1 "$listener_pid"
exit_status=0
wait "$listener_pid" || exit_status=$?

printed=$(cat output.log)
problems=""
[[ "$printed" == *"Listener PID: $listener_pid"* ]] || problems+=" no PID line;"
[[ "$printed" == *"SIGUSR1 received!"* ]] || problems+=" no 'SIGUSR1 received!';"
[[ "$exit_status" -eq 0 ]] || problems+=" exit status $exit_status;"

if [[ -z "$problems" ]]; then
	echo "PASSED"
	exit 0
fi
echo "FAILED:$problems printed: $printed"
exit 1
