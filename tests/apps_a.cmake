# Unit tests of the example apps vpngw, nat, acl, firewall and snat (examples/apps/).
plane_app_test(nat)
plane_app_test(firewall)
plane_app_test(acl)
plane_app_test(vpngw)
plane_app_test(snat)
