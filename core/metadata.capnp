# PuzzleFS rootfs metadata (manifest version 3), wire-compatible with the
# reference's schema: same file id, names and ordinals, hence the same
# type ids and field positions, plus the fields of ours that the
# reference's readers skip (Inode.mtime, Inode.mtimeNsec: Cap'n Proto
# readers take structs longer than their schema's).  Used by the tests with
# `capnp convert`; tests/fixtures/reference-metadata.capnp is the
# reference's schema alone.
@0x84ae5e6e88b7cbb7;

struct Chr {
  major @0 :UInt64;
  minor @1 :UInt64;
}

struct DirEntry {
  ino @0 :UInt64;
  name @1 :Data;
}

struct Dir {
  entries @0 :List(DirEntry);
  lookBelow @1 :Bool;
}

struct Blk {
  major @0 :UInt64;
  minor @1 :UInt64;
}

struct FileChunk {
  blob @0 :BlobRef;
  len @1 :UInt64;
}

struct BlobRef {
  digest @0 :Data;
  offset @1 :UInt64;
  compressed @2 :Bool;
}

struct Xattr {
  key @0 :Data;
  val @1 :Data;
}

struct InodeAdditional {
  xattrs @0 :List(Xattr);
  symlinkTarget @1 :Data;
}

struct Inode {
  ino @0 :UInt64;
  mode :union {
    unknown @1 :Void;
    fifo @2 :Void;
    chr @3 :Chr;
    dir @4 :Dir;
    blk @5 :Blk;
    file @6 :List(FileChunk);
    lnk @7 :Void;
    sock @8 :Void;
    wht @9 :Void;
  }
  uid @10 :UInt32;
  gid @11 :UInt32;
  permissions @12 :UInt16;
  additional @13 :InodeAdditional;
  # Ours, after the reference's fields (older readers skip them): the
  # modification time, seconds and nanoseconds since the epoch.  An inode
  # whose data section ends before them has no mtime; so has one whose
  # mtimeNsec is 10^9 or more (writers put 0xffffffff there).
  mtime @14 :Int64;
  mtimeNsec @15 :UInt32;
}

struct InodeVector {
  inodes @0 :List(Inode);
}

struct VerityData {
  digest @0 :Data;
  verity @1 :Data;
}

struct Rootfs {
  metadatas @0 :List(InodeVector);
  fsVerityData @1 :List(VerityData);
  manifestVersion @2 :UInt64;
}
