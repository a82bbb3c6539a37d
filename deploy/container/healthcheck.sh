#!/bin/bash
# Container healthcheck: GET /healthz on the admin listener, with bash alone (the image has no curl or wget).
# Exit 0 when it answers 200. The port follows GATEWAY_HEALTH_PORT (default 9090, as in the shipped gateway.yaml).
exec 3<>"/dev/tcp/127.0.0.1/${GATEWAY_HEALTH_PORT:-9090}" || exit 1
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 3 status <&3 || exit 1
[[ $status == *" 200 "* ]]
