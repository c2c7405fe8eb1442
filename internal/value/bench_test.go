package value

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// benchItem returns a typical item: keys, strings, integers, decimals, a
// flag, a string set and a small map.
func benchItem() *types.AttributeValueMemberM {
	return m(
		"pk", s("customer#000123456"),
		"sk", s("order#2024-05-17T10:21:33.512Z"),
		"name", s("Ada Lovelace"),
		"email", s("ada@example.com"),
		"status", s("SHIPPED"),
		"quantity", n("3"),
		"createdAt", n("1715941293512"),
		"total", n("1234.56"),
		"discount", n("0.15"),
		"gift", boolean(false),
		"tags", ss("priority", "fragile"),
		"address", m("street", s("12 Analytical Way"), "city", s("London"), "zip", s("NW1 6XE"), "floor", n("2")),
		"note", null(),
	).(*types.AttributeValueMemberM)
}

func BenchmarkOfEncode(b *testing.B) {
	item := benchItem().Value
	avs := make([]types.AttributeValue, 0, len(item))
	for _, av := range item {
		avs = append(avs, av)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, av := range avs {
			t, err := Of(av)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Encode(av, t); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(avs)), "ns/value")
}

func BenchmarkNumberText(b *testing.B) {
	for _, in := range []string{"1715941293512", "1234.56", "1.50", "1E+125"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NumberText(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	item := benchItem()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalJSON(item); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	item := benchItem()
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendJSON(dst[:0], item); err != nil {
			b.Fatal(err)
		}
	}
}
