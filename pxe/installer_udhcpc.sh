#!/bin/sh
# udhcpc hook: configure the leased address and the default route.
case "$1" in
  bound | renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
    if [ -n "$router" ]; then
      route del default 2>/dev/null
      route add default gw "${router%% *}" dev "$interface"
    fi
    ;;
esac
exit 0
