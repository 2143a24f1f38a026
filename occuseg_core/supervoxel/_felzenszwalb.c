/* Felzenszwalb-Huttenlocher graph segmentation, compiled ahead of time (issue 18, point 4).
 *
 * The same algorithm as the numba kernels in graph.py (which stay as the fallback and the
 * reference the tests compare against): a stable LSD radix argsort of the float32 weights
 * (3 passes of 11 bits), then the merge pass and the min-size pass over the sorted edges with
 * union by rank (ties hang a under b) and path halving, float32 thresholds. Built by setup.py
 * as an optional extension and called through ctypes, so it needs neither numpy headers nor
 * the numba start-up (~0.45 s per process) that the `occuseg supervoxels` verb would pay.
 *
 * The module object exists only so that the shared library has a Python name and a path.
 */
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t find_root(int64_t *parent, int64_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static int64_t join_roots(int64_t *parent, int32_t *rank, int64_t *size, int64_t a, int64_t b) {
    if (rank[a] > rank[b]) {
        parent[b] = a;
        size[a] += size[b];
        return a;
    }
    parent[a] = b;
    size[b] += size[a];
    if (rank[a] == rank[b]) rank[b] += 1;
    return b;
}

/* Order-preserving unsigned key of a float32 (no NaN): -0.0 maps like +0.0. */
static uint32_t float_key(float w) {
    uint32_t bits;
    w = w + 0.0f;
    memcpy(&bits, &w, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/* Stable ascending argsort of n float32 weights into order[n]; returns 0, or -1 without memory. */
int occuseg_argsort_weights(int64_t n, const float *weights, int64_t *order) {
    uint32_t *keys = malloc((size_t)(n > 0 ? n : 1) * sizeof *keys);
    int64_t *spare = malloc((size_t)(n > 0 ? n : 1) * sizeof *spare);
    int64_t start[2049];
    if (keys == NULL || spare == NULL) {
        free(keys);
        free(spare);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        keys[i] = float_key(weights[i]);
        order[i] = i;
    }
    int64_t *src = order, *dst = spare;
    for (int shift = 0; shift <= 22; shift += 11) {
        memset(start, 0, sizeof start);
        for (int64_t i = 0; i < n; i++) start[((keys[i] >> shift) & 2047u) + 1] += 1;
        for (int d = 0; d < 2048; d++) start[d + 1] += start[d];
        for (int64_t i = 0; i < n; i++) {
            int64_t j = src[i];
            dst[start[(keys[j] >> shift) & 2047u]++] = j;
        }
        int64_t *swap = src;
        src = dst;
        dst = swap;
    }
    /* Three passes: the result is in `spare`. */
    memcpy(order, src, (size_t)n * sizeof *order);
    free(keys);
    free(spare);
    return 0;
}

/* Segments a graph of num_nodes nodes and num_edges (a, b) int64 edges with float32 weights;
 * writes each node's representative node into out[num_nodes]. Returns 0, or -1 without memory.
 * The caller has checked node indices and finite weights. */
int occuseg_felzenszwalb(int64_t num_nodes, int64_t num_edges, const int64_t *edges,
                         const float *weights, float k_thresh, int64_t min_size, int64_t *out) {
    size_t ne = (size_t)(num_edges > 0 ? num_edges : 1), nn = (size_t)(num_nodes > 0 ? num_nodes : 1);
    int64_t *order = malloc(ne * sizeof *order);
    int64_t *node_a = malloc(ne * sizeof *node_a);
    int64_t *node_b = malloc(ne * sizeof *node_b);
    float *sorted_weight = malloc(ne * sizeof *sorted_weight);
    int32_t *rank = calloc(nn, sizeof *rank);
    int64_t *size = malloc(nn * sizeof *size);
    float *threshold = malloc(nn * sizeof *threshold);
    int status = -1;
    if (!order || !node_a || !node_b || !sorted_weight || !rank || !size || !threshold) goto done;
    if (occuseg_argsort_weights(num_edges, weights, order) != 0) goto done;
    for (int64_t i = 0; i < num_edges; i++) {
        int64_t j = order[i];
        node_a[i] = edges[2 * j];
        node_b[i] = edges[2 * j + 1];
        sorted_weight[i] = weights[j];
    }
    /* `out` doubles as the parent array; at the end every entry is made a root. */
    for (int64_t i = 0; i < num_nodes; i++) {
        out[i] = i;
        size[i] = 1;
        threshold[i] = k_thresh;
    }
    for (int64_t e = 0; e < num_edges; e++) {
        int64_t a = find_root(out, node_a[e]);
        int64_t b = find_root(out, node_b[e]);
        float w = sorted_weight[e];
        if (a != b && w <= threshold[a] && w <= threshold[b]) {
            int64_t root = join_roots(out, rank, size, a, b);
            threshold[root] = w + k_thresh / (float)size[root];
        }
    }
    if (min_size > 1) {
        for (int64_t e = 0; e < num_edges; e++) {
            int64_t a = find_root(out, node_a[e]);
            int64_t b = find_root(out, node_b[e]);
            if (a != b && (size[a] < min_size || size[b] < min_size)) join_roots(out, rank, size, a, b);
        }
    }
    for (int64_t i = 0; i < num_nodes; i++) out[i] = find_root(out, i);
    status = 0;
done:
    free(order);
    free(node_a);
    free(node_b);
    free(sorted_weight);
    free(rank);
    free(size);
    free(threshold);
    return status;
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_felzenszwalb",
                                    "Compiled Felzenszwalb segmentation, called through ctypes.",
                                    -1, NULL};

PyMODINIT_FUNC PyInit__felzenszwalb(void) { return PyModule_Create(&module); }
