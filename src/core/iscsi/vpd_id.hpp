// A LUN's identity from its INQUIRY VPD pages, chosen the way
// multipath-tools and udev's scsi_id choose a WWID, so two paths to one
// LUN agree and two LUNs never do.
//
// Page 0x83 (device identification) lists designators.  Only those of the
// logical unit itself count (association 0; a port's or target's would
// differ per path).  Preference: NAA over EUI-64 over T10 vendor id, and
// among NAA designators IEEE Registered Extended (6) over Registered (5) over
// Locally Assigned (3) — tgt reports an NAA-3 made only of target and LUN
// numbers (the same for every tgt's LUN 1) beside an NAA-6 derived from its
// scsi_id, so the NAA-3 must lose.  SCSI name strings (type 8) come after
// the binary ones, as in scsi_id.
//
// The text form is scsi_id's (what udev shows as ID_SERIAL / multipath as
// the wwid): the designator type digit, then the designator — hex for
// binary ones ("36001405..." is NAA-6), the string for T10 vendor ids and
// names ("1" + vendor id).  With no usable 0x83 designator: "S" + the
// unit serial number of page 0x80, trimmed.  Empty when neither exists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace mpathfs::iscsi {

// The chosen identifier from the raw page 0x83 (header included); empty if
// the page has no logical-unit designator we use.
std::string choose_device_id(const uint8_t* page83, size_t len);

// The unit serial number from the raw page 0x80, with surrounding spaces
// removed; empty when absent.
std::string unit_serial(const uint8_t* page80, size_t len);

// The identifier a path shows: page 0x83's choice, else "S" + serial.
std::string device_id_from_vpd(const uint8_t* page83, size_t len83, const uint8_t* page80, size_t len80);

}  // namespace mpathfs::iscsi
