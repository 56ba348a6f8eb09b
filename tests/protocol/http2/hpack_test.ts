// HPACK (RFC 7541): the decoder against the examples of Appendix C (with
// and without Huffman coding, with the dynamic table carried from one block
// to the next and evictions), size updates, the errors a COMPRESSION_ERROR
// is made of, and the encoder's literal fields.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackError,
} from "../../../lib/protocol/http2/hpack.ts";
import { huffmanDecode, huffmanEncode } from "../../../lib/protocol/http2/huffman.ts";

const hex = (s: string) =>
  Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const text = new TextEncoder();

const REQUESTS: HeaderField[][] = [
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"]],
  [[":method", "GET"], [":scheme", "http"], [":path", "/"], [":authority", "www.example.com"], [
    "cache-control",
    "no-cache",
  ]],
  [[":method", "GET"], [":scheme", "https"], [":path", "/index.html"], [
    ":authority",
    "www.example.com",
  ], ["custom-key", "custom-value"]],
];
const REQUEST_TABLE_SIZES = [57, 110, 164];

const RESPONSES: HeaderField[][] = [
  [[":status", "302"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], [
    "location",
    "https://www.example.com",
  ]],
  [[":status", "307"], ["cache-control", "private"], ["date", "Mon, 21 Oct 2013 20:13:21 GMT"], [
    "location",
    "https://www.example.com",
  ]],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
    [
      "location",
      "https://www.example.com",
    ],
    ["content-encoding", "gzip"],
    [
      "set-cookie",
      "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    ],
  ],
];
const RESPONSE_TABLE_SIZES = [222, 222, 215];

describe("HPACK decoding, RFC 7541 Appendix C", () => {
  it("C.2: literal fields with, without and never indexing, and an indexed field", () => {
    const d = new HpackDecoder();
    assert.deepEqual(
      d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")).fields,
      [["custom-key", "custom-header"]],
    );
    assert.equal(d.tableSize, 55);
    assert.deepEqual(d.decode(hex("040c 2f73 616d 706c 652f 7061 7468")).fields, [[
      ":path",
      "/sample/path",
    ]]);
    assert.deepEqual(d.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74")).fields, [[
      "password",
      "secret",
    ]]);
    assert.deepEqual(d.decode(hex("82")).fields, [[":method", "GET"]]);
    assert.equal(d.tableSize, 55, "only C.2.1 was indexed");
  });

  it("C.3: requests without Huffman coding, the table carried between blocks", () => {
    const d = new HpackDecoder();
    const blocks = [
      "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "8286 84be 5808 6e6f 2d63 6163 6865",
      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ];
    blocks.forEach((block, i) => {
      assert.deepEqual(d.decode(hex(block)).fields, REQUESTS[i]);
      assert.equal(d.tableSize, REQUEST_TABLE_SIZES[i]);
    });
  });

  it("C.4: the same requests with Huffman coding", () => {
    const d = new HpackDecoder();
    const blocks = [
      "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
      "8286 84be 5886 a8eb 1064 9cbf",
      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ];
    blocks.forEach((block, i) => {
      assert.deepEqual(d.decode(hex(block)).fields, REQUESTS[i]);
      assert.equal(d.tableSize, REQUEST_TABLE_SIZES[i]);
    });
  });

  it("C.5: responses without Huffman coding, with evictions from a 256-byte table", () => {
    const d = new HpackDecoder({ maxTableSize: 256 });
    const blocks = [
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
    ];
    blocks.forEach((block, i) => {
      assert.deepEqual(d.decode(hex(block)).fields, RESPONSES[i]);
      assert.equal(d.tableSize, RESPONSE_TABLE_SIZES[i]);
    });
  });

  it("C.6: the same responses with Huffman coding", () => {
    const d = new HpackDecoder({ maxTableSize: 256 });
    const blocks = [
      "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
      "4883 640e ffc1 c0bf",
      "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ];
    blocks.forEach((block, i) => {
      assert.deepEqual(d.decode(hex(block)).fields, RESPONSES[i]);
      assert.equal(d.tableSize, RESPONSE_TABLE_SIZES[i]);
    });
  });
});

describe("HPACK decoding: size updates and errors", () => {
  it("a size update at the start of a block evicts; above the setting or after a field is an error", () => {
    const d = new HpackDecoder();
    d.decode(hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"));
    assert.equal(d.tableSize, 55);
    // 0x20: size update to 0, then an indexed field.
    assert.deepEqual(d.decode(hex("20 82")).fields, [[":method", "GET"]]);
    assert.equal(d.tableSize, 0);
    assert.throws(() => d.decode(hex("3fe21f")), HpackError, "4096 + 1 is above the setting");
    assert.throws(() => d.decode(hex("82 20")), HpackError);
  });

  it("rejects index 0, indices past the tables, truncation and bad Huffman", () => {
    assert.throws(() => new HpackDecoder().decode(hex("80")), HpackError);
    assert.throws(() => new HpackDecoder().decode(hex("be")), HpackError); // 62: empty table
    assert.throws(() => new HpackDecoder().decode(hex("400a 6375")), HpackError);
    assert.throws(() => new HpackDecoder().decode(hex("ff")), HpackError); // truncated integer
    assert.throws(() => new HpackDecoder().decode(hex("ffffffffffff7f")), HpackError); // too large
    // A Huffman string of all ones: 30 bits is EOS, which must not appear.
    assert.throws(() => new HpackDecoder().decode(hex("0084 ffffffff 00")), HpackError);
  });

  it("reports a header list past maxHeaderListSize and keeps the table in step", () => {
    const d = new HpackDecoder({ maxHeaderListSize: 60 });
    const r = d.decode(
      hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82"),
    );
    assert.equal(r.tooLarge, true);
    assert.equal(d.tableSize, 55);
  });
});

describe("Huffman coding (RFC 7541 §5.2, Appendix B)", () => {
  it("round-trips every octet and pads with ones", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual(huffmanDecode(huffmanEncode(all)), all);
    assert.deepEqual(
      huffmanEncode(text.encode("www.example.com")),
      hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
    );
  });

  it("rejects padding longer than 7 bits or not made of ones", () => {
    // "0" is 00000 (5 bits); 0x07 pads with 111, valid; 0x00 pads with zeros.
    assert.deepEqual(huffmanDecode(hex("07")), text.encode("0"));
    assert.equal(huffmanDecode(hex("00")), undefined);
    assert.equal(huffmanDecode(hex("07ff")), undefined);
  });
});

describe("HPACK encoding", () => {
  it("writes literal fields without indexing that any decoder reads back, the table untouched", () => {
    const fields: HeaderField[] = [[":status", "200"], ["content-type", "text/plain"], [
      "x-long",
      "v".repeat(300),
    ]];
    const d = new HpackDecoder();
    assert.deepEqual(d.decode(encodeHeaderBlock(fields)).fields, fields);
    assert.equal(d.tableSize, 0);
  });
});
