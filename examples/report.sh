#!/bin/sh
# Staged by the scheduler next to the job: prints what fetch wrote.
echo "report: input was $(cat "$1")"
