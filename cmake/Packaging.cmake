# The Debian package (CPack DEB): `cmake --build BUILD --target package`, or
# `cpack --config BUILD/CPackConfig.cmake` (deploy/build-package.sh does it on a fresh machine).
# One package, svd-gateway, with both programs. Layout (docs/operations.md, "Installing on an appliance"):
#   /usr/bin/svdgw, /usr/bin/svdhub                           (stripped)
#   /lib/systemd/system/svdgw.service, svdhub.service         (hardened; deploy/systemd/)
#   /usr/lib/sysusers.d/svd-gateway.conf                      (system users svdgw, svdhub)
#   /usr/lib/tmpfiles.d/svd-gateway.conf                      (/etc and /var/lib dirs, owners, modes)
#   /etc/svdgw/svdgw.toml, /etc/svdgw/schemas/*.json          (conffiles)
#   /etc/svdhub/svdhub.toml, /etc/svdhub/schemas/*.json       (conffiles)
#   /usr/share/doc/svd-gateway/                               (README, docs/, examples/ with monitoring/
#                                                              and disclosure.html)
# The version is the project's; `cpack -D CPACK_PACKAGE_VERSION=X` packages the same build under
# another version (scripts/package-test.sh builds an upgrade that way).
#
# The paths under /etc, /lib and /usr/lib are absolute: the Debian layout does not follow
# CMAKE_INSTALL_PREFIX (CPack packages under /usr), so `cmake --install` on a workstation would
# write them too; install the .deb instead.

set(SVD_PACKAGE_FILES "${PROJECT_SOURCE_DIR}/deploy")
file(GLOB SVD_SCHEMAS CONFIGURE_DEPENDS "${SVD_PACKAGE_FILES}/examples/schemas/*.json")

install(FILES "${SVD_PACKAGE_FILES}/systemd/svdgw.service" "${SVD_PACKAGE_FILES}/systemd/svdhub.service"
              "${SVD_PACKAGE_FILES}/systemd/svdgw-audit-snapshot.service"
              "${SVD_PACKAGE_FILES}/systemd/svdgw-audit-snapshot.timer"
        DESTINATION /lib/systemd/system PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES "${SVD_PACKAGE_FILES}/systemd/svd-gateway.sysusers" DESTINATION /usr/lib/sysusers.d
        RENAME svd-gateway.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES "${SVD_PACKAGE_FILES}/systemd/svd-gateway.tmpfiles" DESTINATION /usr/lib/tmpfiles.d
        RENAME svd-gateway.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# Configuration: no secrets (keys and certificates are made on the appliance), so 0644 files in
# directories the postinst closes to the service's group (tmpfiles: /etc/svdgw 0750 root:svdgw).
install(FILES "${SVD_PACKAGE_FILES}/debian/svdgw.toml" DESTINATION /etc/svdgw
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${SVD_SCHEMAS} DESTINATION /etc/svdgw/schemas PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES "${SVD_PACKAGE_FILES}/debian/svdhub.toml" DESTINATION /etc/svdhub
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# svdhub gets its own copy of the schemas: it cannot read /etc/svdgw, and at the force it runs on
# another machine than any gateway.
install(FILES ${SVD_SCHEMAS} DESTINATION /etc/svdhub/schemas PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# Every file under /etc is a conffile: dpkg never overwrites one the admin changed, and keeps them
# all on remove (only purge deletes them). CPack 3.25 does not mark /etc files itself: listed here.
set(SVD_CONFFILES "/etc/svdgw/svdgw.toml\n/etc/svdhub/svdhub.toml\n")
foreach(schema IN LISTS SVD_SCHEMAS)
  get_filename_component(name "${schema}" NAME)
  string(APPEND SVD_CONFFILES "/etc/svdgw/schemas/${name}\n/etc/svdhub/schemas/${name}\n")
endforeach()
file(WRITE "${PROJECT_BINARY_DIR}/debian/conffiles" "${SVD_CONFFILES}")

set(SVD_DOC_DIR /usr/share/doc/svd-gateway)
install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_SOURCE_DIR}/CHANGELOG.md" "${PROJECT_SOURCE_DIR}/SECURITY.md"
        DESTINATION ${SVD_DOC_DIR} PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# Debian's place for the licence.
install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION ${SVD_DOC_DIR} RENAME copyright
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/docs/" DESTINATION ${SVD_DOC_DIR}/docs
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(DIRECTORY "${SVD_PACKAGE_FILES}/examples/" DESTINATION ${SVD_DOC_DIR}/examples
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES "${SVD_PACKAGE_FILES}/pki/make-pki.sh" DESTINATION ${SVD_DOC_DIR}/examples/pki
        PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
install(DIRECTORY "${SVD_PACKAGE_FILES}/mosquitto/" DESTINATION ${SVD_DOC_DIR}/examples/mosquitto
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(DIRECTORY "${SVD_PACKAGE_FILES}/monitoring/" DESTINATION ${SVD_DOC_DIR}/examples/monitoring
        FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# What the example feeds let leave the site, stated by `svdgw disclose` from the example config
# when the package is made (the material docs/dpia.md asks a DPO to attach), so it cannot drift
# from the schemas: generated by the install step itself, which runs after the programs are built
# whatever targets a script built.
set(SVD_DISCLOSURE_HTML "${PROJECT_BINARY_DIR}/disclosure-examples.html")
install(CODE "
  execute_process(COMMAND \"$<TARGET_FILE:svdgw>\" disclose --config \"${SVD_PACKAGE_FILES}/examples/svdgw.toml\"
                          --format html --out \"${SVD_DISCLOSURE_HTML}\" RESULT_VARIABLE svd_disclose_rc)
  if(NOT svd_disclose_rc EQUAL 0)
    message(FATAL_ERROR \"svdgw disclose failed (\${svd_disclose_rc}) for the example config\")
  endif()")
install(FILES "${SVD_DISCLOSURE_HTML}" DESTINATION ${SVD_DOC_DIR}/examples RENAME disclosure.html
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME svd-gateway)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "svd-gateway")
set(SVD_PACKAGE_MAINTAINER "svd-gateway maintainers <maintainers@svd-gateway.invalid>"
    CACHE STRING "The Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${SVD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Serious Violence Duty edge appliance: pseudonymises partner extracts for the force hub")
# The long description (CPack puts the summary above it and indents each line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "svdgw takes a partner's scheduled data extracts (HTTPS upload API with mutual TLS, or a spool
directory), checks every row against the feed's schema, replaces direct identifiers with keyed
tokens and forwards the records to the force's hub over mutually-authenticated MQTT, keeping a
tamper-evident audit log. svdhub is the reference receiver at the hub.

Both run as their own system users under hardened systemd units; neither is enabled on
installation: provision the appliance first (see /usr/share/doc/svd-gateway).")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # svd-gateway_<version>_<arch>.deb
# Library dependencies from the binaries (dpkg-shlibdeps from dpkg-dev, and CPack needs the `file`
# command to find them); systemd for systemd-sysusers and systemd-tmpfiles in the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_BINARY_DIR}/debian/conffiles;${SVD_PACKAGE_FILES}/debian/postinst;${SVD_PACKAGE_FILES}/debian/prerm;${SVD_PACKAGE_FILES}/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)  # maintainer scripts 0755, conffiles 0644
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

include(CPack)
